"""The request's intent, compiled into an OpenAI-compatible server's own chat request.

Each server family (`dialect`) has its own knobs for what OpenAI's API does not
say: thinking, a fixed choice of answers, top-k. Their names come from each
server's source (see docs/clusters.md):

- thinking: all three take `chat_template_kwargs.enable_thinking` (budget 0 turns it
  off); vLLM (since about 0.19, with a reasoning parser) takes `thinking_token_budget`,
  llama.cpp (builds from 2026) `thinking_budget_tokens`; SGLang has no plain request
  field for a budget, so there it only turns thinking on or off. A plain OpenAI
  server gets `reasoning_effort`, the nearest level to the budget.
- a JSON Schema is OpenAI's `response_format` everywhere; a literal answer is
  vLLM's `structured_outputs.choice`, llama.cpp's GBNF `grammar`, SGLang's `regex`,
  and is not constrained on a plain OpenAI server.
- vLLM's prefix cache is salted per project (`cache_salt`), so one project cannot learn
  whether another sent a prompt; llama.cpp and SGLang servers have no such knob.

A llama.cpp built with llguidance (`llguidance = true`) gets what the embedded
engine gets: tools and the JSON shape described in the system turn, and one
`%llguidance` grammar that holds the answer and every call to their schemas.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Literal

from openvertex.core.request import (
    GenerationRequest,
    Image,
    JsonOutput,
    LiteralOutput,
    Message,
    Text,
    ToolUse,
)
from openvertex.engines.constraints.output import output_instruction, reply_grammar
from openvertex.engines.prompted.tool_format import as_plain_text, template_tool
from openvertex.engines.prompted.turns import Turn, turns_of, with_system_instruction
from openvertex.media.image_bytes import sniff_image

Dialect = Literal["vllm", "llamacpp", "sglang", "openai"]


def chat_body(
    request: GenerationRequest,
    model: str,
    dialect: Dialect,
    *,
    prompted_tools: bool,
    llguidance: bool = False,
) -> dict[str, Any]:
    """The body of one `/chat/completions` call, for one candidate."""
    s = request.sampling
    if llguidance:
        messages = [_turn(t) for t in guided_turns(request)]
    else:
        messages = _messages(request, prompted_tools)
    body: dict[str, Any] = {"model": model, "messages": messages}
    for name, value in (
        ("temperature", s.temperature),
        ("top_p", s.top_p),
        ("seed", s.seed),
        ("max_tokens", s.max_tokens),
    ):
        if value is not None:
            body[name] = value
    if s.top_k is not None and dialect != "openai":
        body["top_k"] = s.top_k
    if s.presence_penalty:
        body["presence_penalty"] = s.presence_penalty
    if s.frequency_penalty:
        body["frequency_penalty"] = s.frequency_penalty
    if s.stop:
        body["stop"] = list(s.stop)
    if s.logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = s.top_logprobs
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if dialect == "vllm" and request.cache_scope:
        body["cache_salt"] = hashlib.sha256(request.cache_scope.encode()).hexdigest()
    if llguidance:
        if grammar := reply_grammar(request):
            body["grammar"] = grammar
    else:
        if request.tools is not None and not prompted_tools:
            body |= _tools(request.tools, dialect)
        body |= _output(request, dialect)
    return body | _thinking(request.thinking.budget, dialect)


def guided_turns(request: GenerationRequest) -> tuple[Turn, ...]:
    """The conversation as the embedded engine words it for its grammar."""
    turns = turns_of(_text_only(request.messages))
    turns = with_system_instruction(turns, output_instruction(request.output))
    use = request.tools
    return as_plain_text(turns, use.tools if use is not None and use.callable else ())


def _messages(request: GenerationRequest, prompted_tools: bool) -> list[dict[str, Any]]:
    if prompted_tools and request.tools is not None and request.tools.callable:
        turns = as_plain_text(turns_of(_text_only(request.messages)), request.tools.tools)
        return [_turn(t) for t in turns]
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "tool":
            out += [
                {"role": "tool", "tool_call_id": r.call_id or "", "content": r.content}
                for r in message.tool_results
            ]
            continue
        entry: dict[str, Any] = {"role": message.role, "content": _content(message)}
        if message.tool_calls:
            entry["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]  # fmt: skip
        out.append(entry)
    return out


def _content(message: Message) -> str | list[dict[str, Any]] | None:
    if not message.media:
        return message.text if message.text or not message.tool_calls else None
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, Text):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Image) and part.data is not None:
            mime = part.mime_type or f"image/{sniff_image(part.data) or 'png'}"
            url = f"data:{mime};base64,{base64.b64encode(part.data).decode()}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _text_only(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """Prompted tools go through plain-text turns: no image parts there."""
    return tuple(
        Message(m.role, tuple(p for p in m.parts if not isinstance(p, Image)), m.name)
        for m in messages
    )


def _turn(turn: Turn) -> dict[str, Any]:
    return {"role": turn.role, "content": turn.content}


def _tools(use: ToolUse, dialect: Dialect) -> dict[str, Any]:
    """Tools as OpenAI's API takes them: only the callable ones when a subset is allowed.

    llama.cpp reads `tool_choice` as a string only: one named tool is `required` there,
    with that tool alone shown.
    """
    shown = [t for t in use.tools if use.mode == "none" or t.name in use.allowed]
    choice: Any = use.mode
    if use.mode == "required" and len(use.allowed) == 1 and dialect != "llamacpp":
        choice = {"type": "function", "function": {"name": use.allowed[0]}}
    return {
        "tools": [template_tool(t) for t in shown],
        "tool_choice": choice,
        "parallel_tool_calls": use.parallel,
    }


def _output(request: GenerationRequest, dialect: Dialect) -> dict[str, Any]:
    output = request.output
    if isinstance(output, JsonOutput):
        if output.schema is None:
            return {"response_format": {"type": "json_object"}}
        spec = {"name": output.name or "answer", "schema": output.schema, "strict": output.strict}
        return {"response_format": {"type": "json_schema", "json_schema": spec}}
    if isinstance(output, LiteralOutput):
        options = list(output.options)
        if dialect == "vllm":
            return {"structured_outputs": {"choice": options}}
        if dialect == "llamacpp":
            return {"grammar": "root ::= " + " | ".join(json.dumps(o) for o in options)}
        if dialect == "sglang":
            return {"regex": "|".join(f"({re.escape(o)})" for o in options)}
    return {}


def _thinking(budget: int | None, dialect: Dialect) -> dict[str, Any]:
    """The server's own knob for a thinking budget (None: the model's default)."""
    if budget is None or (budget < 0 and dialect == "openai"):
        return {}
    thinks = budget != 0
    if dialect == "openai":
        levels = ((0, "none"), (1024, "low"), (8192, "medium"))
        effort = next((name for limit, name in levels if 0 <= budget <= limit), "high")
        return {"reasoning_effort": effort}
    out: dict[str, Any] = {"chat_template_kwargs": {"enable_thinking": thinks}}
    if dialect == "vllm" and budget > 0:
        out["thinking_token_budget"] = budget
    if dialect == "llamacpp" and budget > 0:
        out["thinking_budget_tokens"] = budget
    return out
