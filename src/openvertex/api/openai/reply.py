"""Fold one stream of choice events into a ChatCompletion or a run of chunks.

Each event becomes its choice deltas once (`_Deltas`); a stream sends them as they
come, and the whole reply is the same deltas merged per choice, as the SDK merges a
stream, so the JSON reply and the SSE stream cannot drift apart.

Images a model drew come as gateways in front of Gemini give them, in
`message.images` (`delta.images`), each an `image_url` holding a data URL.

Thoughts are shown as Vertex shows them, only when `include_thoughts` is set:
inside `content`, before the answer, untagged (then followed by a blank line)
or wrapped in `<tag>…</tag>`; in a stream each thought delta is flagged with
`extra_content.google.thought`. Their tokens are counted either way.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from openvertex.core.events import (
    ChoiceEvent,
    Finish,
    ImageData,
    TextDelta,
    ThoughtDelta,
    TokenLogprob,
    Usage,
    UsageSum,
)
from openvertex.core.request import ToolCall

_THOUGHT_FLAG = {"google": {"thought": True}}

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReplyMeta:
    """What the reply says besides the events, and how this wire shows them."""

    id: str
    created: int
    model: str
    candidates: int = 1
    include_thoughts: bool = False
    thought_tag: str | None = None  # Vertex's `thought_tag_marker`
    legacy: bool = False  # `functions`: one call, answered as `function_call`
    sign: Callable[[ToolCall], str] | None = None  # each call's thought signature (Gemini 3)


def usage_of(usage: UsageSum) -> Json:
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def image_url(image: ImageData) -> Json:
    url = f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def logprobs_of(entries: tuple[TokenLogprob, ...]) -> list[Json]:
    """Token log probabilities in OpenAI's shape."""

    def one(e: TokenLogprob) -> Json:
        return {"token": e.token, "logprob": e.logprob, "bytes": list(e.bytes) if e.bytes else None}

    return [{**one(e), "top_logprobs": [one(t) for t in e.top]} for e in entries]


@dataclass(frozen=True, slots=True)
class _ThoughtBlock:
    """The text around shown thoughts: `<tag>` … `</tag>`, or nothing … a blank line."""

    opening: str
    closing: str

    @classmethod
    def of(cls, meta: ReplyMeta) -> _ThoughtBlock | None:
        if not meta.include_thoughts:
            return None
        if meta.thought_tag:
            return cls(f"<{meta.thought_tag}>", f"</{meta.thought_tag}>")
        return cls("", "\n\n")


def _choice(index: int, delta: Json, finish: str | None = None) -> Json:
    return {"index": index, "delta": delta, "finish_reason": finish}


class _Deltas:
    """Events as the deltas of their choices: `{index, delta, finish_reason[, logprobs]}`."""

    def __init__(self, meta: ReplyMeta) -> None:
        self.meta = meta
        self.block = _ThoughtBlock.of(meta)
        self.thinking: set[int] = set()  # choices whose shown thoughts are still open
        self.called: set[int] = set()  # legacy choices that made their one call
        self.usage = UsageSum()

    def opening(self) -> list[Json]:
        """Every choice announced, in order: the SDK's stream helpers build their
        snapshot of all choices from the first chunk."""
        role = {"role": "assistant", "content": ""}
        return [_choice(i, dict(role)) for i in range(self.meta.candidates)]

    def of(self, item: ChoiceEvent) -> list[Json]:
        event, i = item.event, item.index
        if isinstance(event, Usage):
            self.usage.add(event)
            return []
        if isinstance(event, ThoughtDelta):
            if self.block is None or not event.text:
                return []
            opening = "" if i in self.thinking else self.block.opening
            self.thinking.add(i)
            return [_choice(i, {"content": opening + event.text, "extra_content": _THOUGHT_FLAG})]
        out = []
        if i in self.thinking and self.block is not None:
            self.thinking.discard(i)
            out.append(_choice(i, {"content": self.block.closing, "extra_content": _THOUGHT_FLAG}))
        if isinstance(event, TextDelta):
            logprobs = None
            if event.logprobs:
                logprobs = {"content": logprobs_of(event.logprobs), "refusal": None}
            out.append({**_choice(i, {"content": event.text}), "logprobs": logprobs})
        elif isinstance(event, ToolCall):
            out += self._call(i, event)
        elif isinstance(event, ImageData):
            out.append(_choice(i, {"images": [image_url(event)]}))
        elif isinstance(event, Finish):
            legacy_call = self.meta.legacy and event.reason == "tool_calls"
            out.append(_choice(i, {}, "function_call" if legacy_call else event.reason))
        return out

    def _call(self, i: int, call: ToolCall) -> list[Json]:
        """A call's name (with its id) first, then its arguments."""
        if not self.meta.legacy:
            named = {"index": call.index, "id": call.id, "type": "function",
                     "function": {"name": call.name, "arguments": ""}}  # fmt: skip
            if self.meta.sign is not None:  # where Vertex's OpenAI layer puts it
                signature = {"thought_signature": self.meta.sign(call)}
                named["extra_content"] = {"google": signature}
            arguments = {"index": call.index, "function": {"arguments": call.arguments}}
            return [_choice(i, {"tool_calls": [named]}), _choice(i, {"tool_calls": [arguments]})]
        if i in self.called:  # `function_call` holds one call
            return []
        self.called.add(i)
        return [
            _choice(i, {"function_call": {"name": call.name, "arguments": ""}}),
            _choice(i, {"function_call": {"arguments": call.arguments}}),
        ]


class _Message:
    """One choice's deltas merged into its message, as the SDK merges a stream."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.content: list[str] = []
        self.calls: dict[int, Json] = {}
        self.function_call: Json | None = None
        self.images: list[Json] = []
        self.logprobs: list[Json] = []
        self.finish = "stop"

    def add(self, piece: Json) -> None:
        delta = piece["delta"]
        self.content.append(delta.get("content") or "")
        for call in delta.get("tool_calls", ()):
            merged = self.calls.setdefault(call["index"], {"id": call.get("id"),
                "type": "function", "function": {"name": "", "arguments": ""}})  # fmt: skip
            _merge_function(merged["function"], call["function"])
            if "extra_content" in call:
                merged["extra_content"] = call["extra_content"]
        if "function_call" in delta:
            self.function_call = self.function_call or {"name": "", "arguments": ""}
            _merge_function(self.function_call, delta["function_call"])
        self.images += delta.get("images", ())
        if logprobs := piece.get("logprobs"):
            self.logprobs += logprobs["content"]
        self.finish = piece["finish_reason"] or self.finish

    def to_json(self) -> Json:
        content: str | None = "".join(self.content)
        message: Json = {"role": "assistant", "content": content, "refusal": None}
        if self.images:
            message["images"] = self.images
        if self.calls:
            message["tool_calls"] = [self.calls[k] for k in sorted(self.calls)]
        if self.function_call is not None:
            message["function_call"] = self.function_call
        if (self.calls or self.function_call) and not (content or "").strip():
            message["content"] = None  # null when the reply is only calls
        logprobs = {"content": self.logprobs, "refusal": None} if self.logprobs else None
        return {"index": self.index, "message": message, "finish_reason": self.finish,
                "logprobs": logprobs}  # fmt: skip


def _merge_function(into: Json, delta: Json) -> None:
    into["name"] += delta.get("name", "")
    into["arguments"] += delta.get("arguments", "")


async def to_completion(events: AsyncGenerator[ChoiceEvent, None], meta: ReplyMeta) -> Json:
    """The whole reply: every delta merged into its choice's message."""
    deltas = _Deltas(meta)
    messages = [_Message(i) for i in range(meta.candidates)]
    for piece in deltas.opening():
        messages[piece["index"]].add(piece)
    async for item in events:
        for piece in deltas.of(item):
            messages[piece["index"]].add(piece)
    return {"id": meta.id, "object": "chat.completion", "created": meta.created,
            "model": meta.model, "choices": [m.to_json() for m in messages],
            "usage": usage_of(deltas.usage)}  # fmt: skip


async def to_chunks(
    events: AsyncGenerator[ChoiceEvent, None], meta: ReplyMeta, *, include_usage: bool
) -> AsyncGenerator[Json, None]:
    """Roles first, then each delta as its own chunk, as it comes; then the usage."""
    deltas = _Deltas(meta)
    head = {"id": meta.id, "object": "chat.completion.chunk", "created": meta.created,
            "model": meta.model}  # fmt: skip
    yield {**head, "choices": deltas.opening()}
    async with aclosing(events):  # closed with the stream, not left to the GC
        async for item in events:
            for piece in deltas.of(item):
                yield {**head, "choices": [piece]}
    if include_usage:
        yield {**head, "choices": [], "usage": usage_of(deltas.usage)}
