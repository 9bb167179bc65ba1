"""Constrained decoding: what the model may emit, as an llguidance grammar.

One mechanism for every feature that needs guaranteed structure (structured
output, tool calls, literal answers): a JSON Schema becomes a grammar that
llama.cpp's llguidance sampler enforces token by token, so the output cannot
fail to parse.

Small models loop inside strings and arrays until they run out of tokens, so
the grammar allows no free whitespace and gives unbounded strings and arrays a
default bound. Schemas arrive checked as JSON Schemas, their cost counted
(`core.intent`, `core.json_bounds`); here llguidance says what it can enforce,
and the result is cached by content, the cache bounded in bytes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

from cachetools import LRUCache, cached
from llguidance import LLMatcher

from openvertex.core.json_bounds import REF_DEPTH
from openvertex.errors import InvalidArgument

DEFAULT_MAX_STRING = 256
DEFAULT_MAX_ITEMS = 16
MAX_RECURSION = REF_DEPTH  # levels of one recursive $ref, below the root
CACHE_BYTES = 16 * 2**20  # of grammars kept, per cache
KEY_PATTERN = "^[A-Za-z_][A-Za-z0-9_ -]{0,47}$"  # keys of free-form (json_object) replies
_NOT_SCHEMAS = {"enum", "const", "default", "examples", "required", "x-guidance"}


@dataclass(frozen=True, slots=True)
class Bounds:
    """Defaults for strings and arrays that declare no bound of their own."""

    max_string: int = DEFAULT_MAX_STRING
    max_items: int = DEFAULT_MAX_ITEMS


def json_rule(schema: dict[str, Any], *, strict: bool, param: str) -> str:
    """`schema` as a grammar rule body (`%json {...}`), checked and bounded."""
    return "%json " + json.dumps(
        {**guided_schema(schema, strict=strict, param=param), **_options(strict)}
    )


def guided_schema(
    schema: dict[str, Any], *, strict: bool, param: str, bounds: Bounds | None = None
) -> dict[str, Any]:
    """`schema` checked, its recursion capped and its strings and arrays bounded; cached."""
    # Key order is kept: it is the order of the output's keys.
    return json.loads(_guided(json.dumps(schema), strict, param, bounds or Bounds()))


def lark_grammar(rules: str) -> str:
    """A complete grammar in the form llama.cpp hands to llguidance."""
    return "%llguidance {}\n" + rules


def check_grammar(grammar: str, param: str) -> None:
    """Refuse a grammar llguidance would not accept, naming its problems."""
    failed, problems = LLMatcher.validate_grammar_with_warnings(grammar)
    if failed:
        raise InvalidArgument("The grammar cannot be enforced: " + "; ".join(problems), param=param)


def _options(strict: bool) -> dict[str, Any]:
    return {"x-guidance": {"whitespace_flexible": False, "lenient": not strict}}


def _any_object(depth: int) -> dict[str, Any]:
    """A JSON object of any shape, but small: free-form JSON is where small models loop.

    At most `depth` levels, 8 keys or items per nested level (16 at the top), short strings.
    """
    scalars: list[dict[str, Any]] = [
        {"type": "string", "maxLength": 64}, {"type": "number"}, {"type": "boolean"},
        {"type": "null"},
    ]  # fmt: skip

    def object_of(value: dict[str, Any], size: int) -> dict[str, Any]:
        return {
            "type": "object",
            "patternProperties": {KEY_PATTERN: value},  # keys too: a model can loop in a key
            "additionalProperties": False,
            "maxProperties": size,
        }

    value: dict[str, Any] = {"anyOf": scalars}
    for _ in range(depth - 1):
        array = {"type": "array", "items": value, "maxItems": 8}
        value = {"anyOf": [*scalars, array, object_of(value, 8)]}
    return object_of(value, 16)


ANY_OBJECT = _any_object(depth=3)


P = ParamSpec("P")


def cached_by_content(
    max_bytes: int = CACHE_BYTES,
) -> Callable[[Callable[P, str]], Callable[P, str]]:
    """Memoize a function that returns a string, keeping at most `max_bytes` of results.

    Keys are digests of the arguments, so a large schema costs 32 bytes of key.
    """
    cache: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=len)

    def key(*args: Any) -> bytes:
        return hashlib.sha256(repr(args).encode()).digest()

    return cached(cache, key=key, lock=threading.Lock())


@cached_by_content()
def _guided(schema_json: str, strict: bool, param: str, bounds: Bounds) -> str:
    schema = json.loads(schema_json)
    guided = _bounded(_cap_recursion(schema), bounds)
    failed, problems = LLMatcher.validate_grammar_with_warnings(
        LLMatcher.grammar_from_json_schema({**guided, **_options(strict)})
    )
    if failed:
        raise InvalidArgument(
            "The JSON Schema cannot be enforced: "
            + "; ".join(problems)
            + (" (set strict to false to ignore what cannot be enforced)" if strict else ""),
            param=param,
        )
    return json.dumps(guided)


_CUT = object()  # "this part cannot appear any deeper"


def _cap_recursion(root: dict[str, Any]) -> dict[str, Any]:
    """Inline local `$ref`s, letting each recursive one nest at most MAX_RECURSION deep.

    Past that depth the recursion must stop: an array of it must be empty, and an optional
    property or `anyOf` branch of it is left out. Every output of the capped schema is valid
    under the original one; a model that keeps nesting cannot run away.
    """

    def target(ref: str) -> Any:
        if ref == "#":
            return root
        for section in ("$defs", "definitions"):
            prefix = f"#/{section}/"
            if ref.startswith(prefix):
                return (root.get(section) or {}).get(ref.removeprefix(prefix))
        return None

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, path) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and (resolved := target(ref)) is not None:
            if path.count(ref) >= MAX_RECURSION:
                return _CUT
            inner = walk(resolved, (*path, ref))
            rest = walk({k: v for k, v in node.items() if k != "$ref"}, path)
            return _CUT if inner is _CUT or rest is _CUT else {**inner, **rest}
        out: dict[str, Any] = {}
        empty_array = False
        for key, value in node.items():
            if key in ("$defs", "definitions"):
                continue  # everything used is inlined
            if key in _NOT_SCHEMAS:
                out[key] = value
            elif key in ("properties", "patternProperties") and isinstance(value, dict):
                out[key] = {}
                for name, sub in value.items():
                    capped = walk(sub, path)
                    if capped is _CUT and name in node.get("required", ()):
                        return _CUT
                    if capped is not _CUT:
                        out[key][name] = capped
            elif key in ("anyOf", "oneOf") and isinstance(value, list):
                out[key] = [b for b in walk(value, path) if b is not _CUT]
                if not out[key]:
                    return _CUT
            elif (capped := walk(value, path)) is not _CUT:
                out[key] = capped
            elif key == "items" and not node.get("minItems"):
                empty_array = True
            else:
                return _CUT
        if empty_array:
            out["maxItems"] = 0
        return out

    capped = walk(root, ())
    return root if capped is _CUT else capped


def _bounded(schema: Any, bounds: Bounds) -> Any:
    """A copy of `schema` where strings, arrays and open objects get a default bound.

    An object that lists its properties is closed to others, since extra keys are
    only allowed, never needed; a model inventing keys is one more way to loop.
    """
    schema = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        free_string = not {"enum", "const", "maxLength", "format", "pattern"} & node.keys()
        if "string" in types and free_string:
            node["maxLength"] = bounds.max_string
        if "array" in types and "maxItems" not in node:
            node["maxItems"] = max(bounds.max_items, node.get("minItems", 0))
        if "properties" in node and not {"additionalProperties", "patternProperties"} & node.keys():
            node["additionalProperties"] = False  # unlisted keys are allowed, not needed
        open_object = node.get("additionalProperties", True) is not False
        if "object" in types and open_object and "maxProperties" not in node:
            node["maxProperties"] = max(bounds.max_items, node.get("minProperties", 0))
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions", "patternProperties"):
                for sub in value.values() if isinstance(value, dict) else ():
                    visit(sub)
            elif key not in _NOT_SCHEMAS:
                visit(value)

    visit(schema)
    return schema
