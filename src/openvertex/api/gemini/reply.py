"""Fold one stream of choice events into a GenerateContentResponse, or a run of them.

A streamed chunk is a whole response holding what is new: text, thoughts
(`thought: true`, only when `includeThoughts` is set) and function calls (args
as an object). Each candidate's last chunk carries its `finishReason`, and the
stream's last chunk the usage of all candidates. Candidate tokens exclude
thoughts, which are counted apart, as Gemini bills them.

Each event becomes its candidate's delta once (`_Deltas`); the whole reply is the
same deltas merged per candidate, so the two shapes cannot drift apart.
"""

from __future__ import annotations

import base64
import json
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

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}


@dataclass(frozen=True, slots=True)
class ReplyMeta:
    response_id: str
    create_time: str  # RFC 3339, UTC
    model_version: str  # the model's own id, an alias resolved
    candidates: int = 1
    include_thoughts: bool = False
    sign: Callable[[ToolCall], str] | None = None  # each call's thoughtSignature (Gemini 3)


def usage_metadata(usage: UsageSum) -> dict[str, Any]:
    answer = usage.completion - usage.reasoning
    out: dict[str, Any] = {
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": usage.prompt + usage.completion,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": answer}],
    }
    if usage.reasoning:
        out["thoughtsTokenCount"] = usage.reasoning
    if usage.cached:
        out["cachedContentTokenCount"] = usage.cached
    return out


def inline_data(image: ImageData) -> dict[str, Any]:
    return {
        "inlineData": {"mimeType": image.mime_type, "data": base64.b64encode(image.data).decode()}
    }


def function_call(call: ToolCall, sign: Callable[[ToolCall], str] | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {
        "functionCall": {"id": call.id, "name": call.name, "args": json.loads(call.arguments)}
    }
    if sign is not None:
        part["thoughtSignature"] = sign(call)
    return part


def _logprobs(entries: tuple[TokenLogprob, ...]) -> dict[str, Any]:
    """`logprobsResult` and `avgLogprobs` of some tokens."""
    chosen = [{"token": e.token, "logProbability": e.logprob} for e in entries]
    top = [
        {"candidates": [{"token": t.token, "logProbability": t.logprob} for t in e.top]}
        for e in entries
    ]
    return {
        "avgLogprobs": sum(e.logprob for e in entries) / len(entries),
        "logprobsResult": {"topCandidates": top, "chosenCandidates": chosen},
    }


class _Deltas:
    """Events as the deltas of their candidates: `{content: {parts}, index, ...}`."""

    def __init__(self, meta: ReplyMeta) -> None:
        self.meta = meta
        self.usage = UsageSum()
        self.finished = 0

    def of(self, item: ChoiceEvent) -> dict[str, Any] | None:
        event, i = item.event, item.index
        if isinstance(event, Usage):
            self.usage.add(event)
        elif isinstance(event, ThoughtDelta):
            if self.meta.include_thoughts and event.text:
                return _delta(i, [{"text": event.text, "thought": True}])
        elif isinstance(event, TextDelta):
            extra = _logprobs(event.logprobs) if event.logprobs else {}
            return _delta(i, [{"text": event.text}], **extra)
        elif isinstance(event, ToolCall):
            return _delta(i, [function_call(event, self.meta.sign)])
        elif isinstance(event, ImageData):
            return _delta(i, [inline_data(event)])
        elif isinstance(event, Finish):
            self.finished += 1
            return _delta(i, [{"text": ""}], finishReason=_FINISH[event.reason])
        return None

    @property
    def done(self) -> bool:
        return self.finished == self.meta.candidates


class _Candidate:
    """One candidate's deltas merged: thoughts, then text, then images and calls."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.thoughts: list[str] = []
        self.text: list[str] = []
        self.images: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.finish = _FINISH["stop"]
        self.chosen: list[dict[str, Any]] = []
        self.top: list[dict[str, Any]] = []

    def add(self, delta: dict[str, Any]) -> None:
        for part in delta["content"]["parts"]:
            if "text" not in part:
                (self.calls if "functionCall" in part else self.images).append(part)
            elif part["text"]:
                (self.thoughts if part.get("thought") else self.text).append(part["text"])
        if result := delta.get("logprobsResult"):
            self.chosen += result["chosenCandidates"]
            self.top += result["topCandidates"]
        self.finish = delta.get("finishReason", self.finish)

    def to_json(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if self.thoughts:
            parts.append({"text": "".join(self.thoughts), "thought": True})
        if self.text or not (self.images or self.calls):
            parts.append({"text": "".join(self.text)})
        parts += self.images + self.calls
        out = {"content": {"role": "model", "parts": parts}, "finishReason": self.finish,
               "index": self.index}  # fmt: skip
        if self.chosen:
            average = sum(c["logProbability"] for c in self.chosen) / len(self.chosen)
            out["avgLogprobs"] = average
            out["logprobsResult"] = {"topCandidates": self.top, "chosenCandidates": self.chosen}
        return out


async def to_response(events: AsyncGenerator[ChoiceEvent, None], meta: ReplyMeta) -> dict[str, Any]:
    """The whole reply: every delta merged into its candidate."""
    deltas = _Deltas(meta)
    candidates = [_Candidate(i) for i in range(meta.candidates)]
    async for item in events:
        if (delta := deltas.of(item)) is not None:
            candidates[delta["index"]].add(delta)
    return _response(meta, [c.to_json() for c in candidates], usage_metadata(deltas.usage))


async def to_chunks(
    events: AsyncGenerator[ChoiceEvent, None], meta: ReplyMeta
) -> AsyncGenerator[dict[str, Any], None]:
    """Each delta as a chunk, as it comes; the last one carries the usage."""
    deltas = _Deltas(meta)
    async with aclosing(events):  # closed with the stream, not left to the GC
        async for item in events:
            if (delta := deltas.of(item)) is not None:
                usage = usage_metadata(deltas.usage) if deltas.done else None
                yield _response(meta, [delta], usage)


def _delta(index: int, parts: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"content": {"role": "model", "parts": parts}, "index": index, **fields}


def _response(
    meta: ReplyMeta, candidates: list[dict[str, Any]], usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"candidates": candidates}
    if usage is not None:
        out["usageMetadata"] = usage
    out |= {
        "modelVersion": meta.model_version,
        "createTime": meta.create_time,
        "responseId": meta.response_id,
    }
    return out
