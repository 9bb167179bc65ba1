"""Render a conversation with the Jinja chat template stored in the GGUF file.

The same sandboxed Jinja setup as Hugging Face's `apply_chat_template`, so a
template behaves as its authors tested it. openvertex renders the prompt itself
(rather than letting llama.cpp do it) because thinking, tools and structured
output need to control the exact text the model continues from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from openvertex.engines.prompted.turns import Turn
from openvertex.errors import InvalidArgument


class TemplateRefused(InvalidArgument):
    """The template itself rejected the conversation (e.g. roles must alternate)."""


def _raise_exception(message: str) -> None:
    raise TemplateRefused(message, param="messages")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.globals.update(raise_exception=_raise_exception, strftime_now=_strftime_now)
        self._template = env.from_string(source)
        self._specials = {"bos_token": bos_token, "eos_token": eos_token}
        # A template that reads `tools` renders tool lists, calls and results itself.
        self.knows_tools = "tools" in jinja2.meta.find_undeclared_variables(env.parse(source))

    def render(
        self,
        messages: Sequence[Turn],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> str:
        try:
            return self._template.render(
                messages=[_as_dict(m) for m in messages],
                tools=tools,
                add_generation_prompt=add_generation_prompt,
                **self._specials,
            )
        except TemplateRefused:
            raise
        except jinja2.TemplateError as exc:
            raise InvalidArgument(
                f"The model's chat template cannot render these messages: {exc}",
                param="messages",
            ) from exc


def _as_dict(message: Turn) -> dict[str, Any]:
    """A message as Hugging Face templates read it (call arguments as objects)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.loads(call.arguments)},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out
