"""The output contract, compiled for llama.cpp: one grammar, and the words that tell the model.

A JSON Schema becomes a `%json` rule, a literal a choice of strings, a tool set
the call grammar of `tools.py` (with the JSON rule, if any, shaping a text
answer). The model is also told the schema in its system turn: a grammar holds
it to the shape, the words help it fill the shape with sense.
"""

from __future__ import annotations

import json

from openvertex.core.request import GenerationRequest, JsonOutput, LiteralOutput, Output
from openvertex.engines.constraints.grammar import ANY_OBJECT, json_rule, lark_grammar
from openvertex.engines.constraints.tools import tool_grammar


def reply_grammar(request: GenerationRequest) -> str | None:
    """The grammar the answer must follow, or None; a 400 if it cannot be enforced."""
    rule = _answer_rule(request.output)
    if request.tools is not None and request.tools.callable:
        return tool_grammar(request.tools, rule)
    return None if rule is None else lark_grammar(f"start: {rule}")


def output_instruction(output: Output | None) -> str:
    """What the system turn says about the answer's shape."""
    if not isinstance(output, JsonOutput):
        return ""
    if output.schema is None:
        return "Answer with a JSON object only."
    kind = "a JSON object" if output.schema.get("type", "object") == "object" else "JSON"
    what = f": a {output.name}" if output.name else ""
    about = f" ({output.description})" if output.description else ""
    return (
        f"Answer with {kind} only{what}{about}, following this JSON Schema:\n"
        + json.dumps(output.schema)
        # Small models fill a shape with the first thing that fits; this helps them list.
        + "\nFill each field from the conversation; a list holds every item it names."
    )


def _answer_rule(output: Output | None) -> str | None:
    if isinstance(output, LiteralOutput):
        return " | ".join(json.dumps(text) for text in output.options)
    if isinstance(output, JsonOutput):
        if output.schema is None:  # any JSON object, but a small one
            return json_rule(ANY_OBJECT, strict=False, param=output.where)
        return json_rule(output.schema, strict=output.strict, param=output.where)
    return None
