"""Function calling on llama.cpp: the grammar every call must follow.

Every model writes its calls in one format (`engines/prompted/tool_format.py`).
The grammar makes each call's `arguments` valid under that function's schema
(through the same JSON-schema machinery as `response_format`). In `required`
mode the reply is nothing but calls; in `auto` mode any text is allowed until
the model writes `<tool_call>`, and from there the call is held to the grammar;
a reply that starts with `{` is a call too (some models write one call as bare
JSON), so free text never starts with `{`, a code fence or `<` in that mode.
"""

from __future__ import annotations

import json
from typing import Any

from openvertex.core.request import ToolUse
from openvertex.engines.constraints.grammar import (
    Bounds,
    cached_by_content,
    check_grammar,
    guided_schema,
    json_rule,
    lark_grammar,
)
from openvertex.engines.prompted.tool_format import CALL_CLOSE, CALL_OPEN, INLINE_OPEN

MAX_CALLS = 5  # per reply: small models repeat a call until the grammar ends them
# Arguments are short values (names, ids, places): tighter default bounds than replies.
ARGUMENT_BOUNDS = Bounds(max_string=96, max_items=8)


def tool_grammar(use: ToolUse, answer_rule: str | None = None) -> str:
    """The grammar of the reply; `answer_rule` (e.g. a `%json` rule) shapes a text answer."""
    by_name = {tool.name: tool for tool in use.tools}
    allowed = [by_name[name] for name in use.allowed]
    return _grammar(
        tuple((t.name, json.dumps(t.parameters), t.strict, t.where) for t in allowed),
        use.mode,
        use.parallel,
        answer_rule,
    )


@cached_by_content()
def _grammar(
    allowed: tuple[tuple[str, str, bool, str], ...],
    mode: str,
    parallel: bool,
    answer_rule: str | None,
) -> str:
    calls: list[dict[str, Any]] = []
    for name, parameters, strict, param in allowed:
        arguments = guided_schema(
            json.loads(parameters), strict=strict, param=param, bounds=ARGUMENT_BOUNDS
        )
        calls.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": arguments},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    call_schema = {"anyOf": calls} if len(calls) > 1 else calls[0]
    body = json_rule(call_schema, strict=False, param="tools")
    more = f' ("\\n" call){{0,{MAX_CALLS - 1}}}'
    rules = [
        f"call_body: {body}",
        f'call: {_literal(CALL_OPEN)} "\\n" call_body "\\n" {_literal(CALL_CLOSE)}',
    ]
    if mode == "required":
        rules.insert(0, "start: call" + (more if parallel else ""))
    else:
        # Free text that holds no call; or text, the call marker, then calls; or one call
        # as a bare JSON object, at the start or after some text (as Qwen2.5-Coder writes).
        tagged = f'head "\\n" call_body "\\n" {_literal(CALL_CLOSE)}' + (more if parallel else "")
        tails = " | ".join(f"tail_{i}" for i in range(len(calls)))
        rules.insert(0, f"start: {answer_rule or 'TEXT'} | {tagged} | call_body | inline ({tails})")
        # Text may not start as a JSON object, code or markup: that is a call on its way.
        not_a_call = "~/(\\{|```|<)(?s:.*)/"
        marker, inline = _regex(CALL_OPEN), _regex(INLINE_OPEN)
        rules += [
            "head[lazy]: HEAD",
            f"HEAD: /{marker}/ | /(?s:.*){marker}/ & {not_a_call}",
            "inline[lazy]: INLINE",
            f"INLINE: /(?s:.+){inline} ?/ & {not_a_call}",
            f"TEXT: /(?s:.*)/ & {not_a_call} & ~/(?s:.*)({marker}|{inline})(?s:.*)/",
        ]
        for i, call in enumerate(calls):
            name = call["properties"]["name"]["const"]
            args_rule = json_rule(call["properties"]["arguments"], strict=False, param="tools")
            rules.append(f'tail_{i}: {_literal(json.dumps(name) + ", ")} ARGS_KEY {args_rule} "}}"')
        rules.append('ARGS_KEY: "\\"arguments\\":" " "?')
    grammar = lark_grammar("\n".join(rules))
    check_grammar(grammar, param="tools")
    return grammar


def _literal(text: str) -> str:
    return json.dumps(text)


def _regex(text: str) -> str:
    return "".join(f"\\{c}" if c in "\\.+*?()|[]{}^$/" else c for c in text)
