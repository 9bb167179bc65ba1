"""How much work a client's JSON may cost, counted before anything expands or recurses on it.

A JSON Schema of a kilobyte can stand for an exponential tree once its `$ref`s are
inlined (two refs per level double it), and checking one against its metaschema costs
tens of microseconds per subschema, so every schema of a request spends from one
`SchemaBudget`: subschemas after inlining, nesting depth, enum sizes. The count follows
`$ref`s the way engines unroll them (a recursive ref at most `REF_DEPTH` times on a
path) and stops at the limit, so counting a bomb costs no more than the limit itself.

JSON that arrives inside a string (a tool call's `arguments`) is bounded the same way:
no nesting past `MAX_DEPTH`, no number Python cannot hold, no `NaN` or `Infinity`.
"""

from __future__ import annotations

import json
from typing import Any

from openvertex.errors import InvalidArgument

MAX_SUBSCHEMAS = 5_000  # JSON objects per request, every schema together, $refs inlined
MAX_DEPTH = 64  # nested objects and arrays, in a schema or in JSON sent as a string
MAX_ENUM = 1_000  # values in one enum
MAX_COMPOUND_ENUM = 100  # when they are objects or arrays: each is compared with every other
REF_DEPTH = 3  # how often one $ref may recur on a path before the recursion is cut
_VALUES = {"enum", "const", "default", "examples", "required"}  # hold data, not schemas


class SchemaBudget:
    """What one request's schemas may still cost; spend each schema before checking it."""

    def __init__(self, subschemas: int = MAX_SUBSCHEMAS) -> None:
        self.left = subschemas

    def spend(self, schema: Any, *, where: str) -> None:
        """Count `schema` as if its local $refs were inlined; a 400 naming the limit it breaks."""
        stack: list[tuple[Any, int, tuple[str, ...]]] = [(schema, 0, ())]
        while stack:
            node, depth, refs = stack.pop()
            if depth > MAX_DEPTH:
                raise InvalidArgument(
                    f"The JSON Schema nests deeper than {MAX_DEPTH} levels.", param=where
                )
            if isinstance(node, list):
                stack.extend((item, depth + 1, refs) for item in node)
                continue
            if not isinstance(node, dict):
                continue
            self.left -= 1
            if self.left < 0:
                raise InvalidArgument(
                    f"The request's JSON Schemas come to more than {MAX_SUBSCHEMAS} JSON objects "
                    f"once their $refs are inlined (each recursive $ref {REF_DEPTH} times).",
                    param=where,
                )
            _check_enum(node.get("enum"), where)
            ref = node.get("$ref")
            if isinstance(ref, str) and refs.count(ref) < REF_DEPTH:
                target = _local_target(schema, ref)
                if target is not None:
                    stack.append((target, depth + 1, (*refs, ref)))
            for key, value in node.items():
                if key not in _VALUES and key not in ("$defs", "definitions"):
                    stack.append((value, depth + 1, refs))
                elif key in ("$defs", "definitions") and not refs:
                    stack.append((value, depth + 1, refs))  # checked once, used where referred


def loads(text: str, *, what: str, param: str) -> Any:
    """`text` parsed as JSON, or a 400 saying why not: bounded in depth and in numbers."""
    too_deep = InvalidArgument(f"{what}: JSON nested deeper than {MAX_DEPTH} levels.", param=param)
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:  # also integers past Python's 4300-digit limit
        reason = str(exc).splitlines()[0]
        raise InvalidArgument(f"{what} is not valid JSON: {reason}", param=param) from None
    if _depth(value) > MAX_DEPTH:
        raise too_deep
    return value


def _check_enum(values: Any, where: str) -> None:
    if not isinstance(values, list):
        return
    compound = any(isinstance(v, dict | list) for v in values)
    limit = MAX_COMPOUND_ENUM if compound else MAX_ENUM
    if len(values) > limit:
        kind = "objects or arrays" if compound else "values"
        raise InvalidArgument(f"An enum may hold at most {limit} {kind}.", param=where)


def _local_target(root: Any, ref: str) -> Any:
    if ref == "#":
        return root
    for section in ("$defs", "definitions"):
        prefix = f"#/{section}/"
        if ref.startswith(prefix) and isinstance(root, dict):
            defs = root.get(section)
            return defs.get(ref.removeprefix(prefix)) if isinstance(defs, dict) else None
    return None


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
