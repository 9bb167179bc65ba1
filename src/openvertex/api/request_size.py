"""How much a request asks the model to read, measured on its raw JSON before any work.

A body of 100,000 one-word messages is 3 MiB: well under the size limit, yet a second
of validation and far longer of template and tokenizer work before the model could
refuse it as over its context. So a large body is first read as plain JSON (C speed)
and its turns, parts and text give a lower bound of its tokens: over the model's
context, it is refused at once, naming the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from openvertex.errors import InvalidArgument
from openvertex.serving.registry import ModelRegistry, ServedModel

SMALL = 256 * 1024  # bytes; a smaller body is refused, if need be, by the engine's own count
CHARS_PER_TOKEN = 64  # more than any tokenizer packs into one token: so a lower bound


@dataclass(frozen=True, slots=True)
class Size:
    turns: int
    least_tokens: int  # each turn's role, and each part at least a token or its text's share


@dataclass(frozen=True, slots=True)
class SizeLimit:
    """`measure` reads a wire's body; `context` is the context of the model it asks for
    (0: not known, nothing refused)."""

    measure: Callable[[dict[str, Any]], Size]
    context: Callable[[dict[str, Any]], int]
    where: str

    def check(self, raw: bytes) -> None:
        if len(raw) <= SMALL:
            return
        try:
            body = from_json(raw)
        except ValueError:
            return  # validation says what is wrong with it
        if not isinstance(body, dict) or not (context := self.context(body)):
            return
        size = self.measure(body)
        if size.least_tokens > context:
            raise InvalidArgument(
                f"The input token count (at least {size.least_tokens}, in {size.turns} turns) "
                f"exceeds the maximum number of tokens allowed ({context}).",
                param=self.where,
            )


def served_context(served: ServedModel) -> Callable[[dict[str, Any]], int]:
    """The context of a model the URL names."""
    return lambda _: served.engine.capabilities.context_window


def named_context(registry: ModelRegistry) -> Callable[[dict[str, Any]], int]:
    """The context of the model the body names (`model`), if it is served."""

    def context(body: dict[str, Any]) -> int:
        name = body.get("model")
        served = registry.find(name) if isinstance(name, str) else None
        return served.engine.capabilities.context_window if served is not None else 0

    return context


def _part_tokens(text: Any) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN) if isinstance(text, str) else 1


def openai_size(body: dict[str, Any]) -> Size:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return Size(0, 0)
    tokens = len(messages)
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            tokens += sum(_part_tokens(p.get("text") if isinstance(p, dict) else None)
                          for p in content)  # fmt: skip
        elif isinstance(content, str):
            tokens += _part_tokens(content)
    return Size(len(messages), tokens)


def gemini_size(body: dict[str, Any]) -> Size:
    contents = body.get("contents")
    if not isinstance(contents, list):
        return Size(0, 0)
    system = body.get("systemInstruction", body.get("system_instruction"))
    tokens = len(contents)
    for content in [*contents, system]:
        parts = content.get("parts") if isinstance(content, dict) else None
        if isinstance(parts, list):
            tokens += sum(_part_tokens(p.get("text") if isinstance(p, dict) else None)
                          for p in parts)  # fmt: skip
    return Size(len(contents), tokens)
