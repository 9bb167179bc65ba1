"""Fold one stream of choice events into a GenerateContentResponse, or a run of them.

A streamed chunk is a whole response holding what is new: text, thoughts
(`thought: true`, only when `includeThoughts` is set) and function calls (args
as an object). Each candidate's last chunk carries its `finishReason`, and the
stream's last chunk the usage of all candidates. Candidate tokens exclude
thoughts, which are counted apart, as Gemini bills them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from openvertex.core.events import (
    ChoiceEvent,
    Finish,
    FinishReason,
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
    model_version: str  # the model as the client named it
    candidates: int = 1
    include_thoughts: bool = False


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


def function_call(call: ToolCall) -> dict[str, Any]:
    return {"functionCall": {"id": call.id, "name": call.name, "args": json.loads(call.arguments)}}


class _Logprobs:
    """`logprobsResult` and `avgLogprobs` of one candidate, as its tokens come."""

    def __init__(self) -> None:
        self.chosen: list[dict[str, Any]] = []
        self.top: list[dict[str, Any]] = []

    def add(self, entries: tuple[TokenLogprob, ...]) -> None:
        for e in entries:
            self.chosen.append({"token": e.token, "logProbability": e.logprob})
            alternatives = [{"token": t.token, "logProbability": t.logprob} for t in e.top]
            self.top.append({"candidates": alternatives})

    def fields(self) -> dict[str, Any]:
        if not self.chosen:
            return {}
        average = sum(c["logProbability"] for c in self.chosen) / len(self.chosen)
        return {
            "avgLogprobs": average,
            "logprobsResult": {"topCandidates": self.top, "chosenCandidates": self.chosen},
        }


class _Candidate:
    def __init__(self, index: int) -> None:
        self.index = index
        self.thoughts: list[str] = []
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.images: list[ImageData] = []
        self.finish: FinishReason = "stop"
        self.logprobs = _Logprobs()

    def to_json(self, include_thoughts: bool) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if include_thoughts and self.thoughts:
            parts.append({"text": "".join(self.thoughts), "thought": True})
        if self.text or not (self.calls or self.images):
            parts.append({"text": "".join(self.text)})
        parts += [inline_data(image) for image in self.images]
        parts += [function_call(call) for call in self.calls]
        return {
            "content": {"role": "model", "parts": parts},
            "finishReason": _FINISH[self.finish],
            "index": self.index,
            **self.logprobs.fields(),
        }


async def to_response(events: AsyncIterator[ChoiceEvent], meta: ReplyMeta) -> dict[str, Any]:
    candidates = [_Candidate(i) for i in range(meta.candidates)]
    usage = UsageSum()
    async for item in events:
        event, candidate = item.event, candidates[item.index]
        if isinstance(event, TextDelta):
            candidate.text.append(event.text)
            if event.logprobs:
                candidate.logprobs.add(event.logprobs)
        elif isinstance(event, ThoughtDelta):
            candidate.thoughts.append(event.text)
        elif isinstance(event, ToolCall):
            candidate.calls.append(event)
        elif isinstance(event, ImageData):
            candidate.images.append(event)
        elif isinstance(event, Usage):
            usage.add(event)
        elif isinstance(event, Finish):
            candidate.finish = event.reason
    return _response(
        meta,
        [c.to_json(meta.include_thoughts) for c in candidates],
        usage_metadata(usage),
    )


async def to_chunks(
    events: AsyncGenerator[ChoiceEvent, None], meta: ReplyMeta
) -> AsyncGenerator[dict[str, Any], None]:
    """One chunk per event worth sending; the last one carries the usage."""
    usage = UsageSum()
    finished = 0
    async with aclosing(events):  # closed with the stream, not left to the GC
        async for item in events:
            event, i = item.event, item.index
            if isinstance(event, Usage):
                usage.add(event)
                continue
            if isinstance(event, ThoughtDelta):
                if not meta.include_thoughts or not event.text:
                    continue
                yield _response(meta, [_delta(i, [{"text": event.text, "thought": True}])])
            elif isinstance(event, TextDelta):
                extra = {}
                if event.logprobs:
                    logprobs = _Logprobs()
                    logprobs.add(event.logprobs)
                    extra = logprobs.fields()
                yield _response(meta, [_delta(i, [{"text": event.text}], **extra)])
            elif isinstance(event, ToolCall):
                yield _response(meta, [_delta(i, [function_call(event)])])
            elif isinstance(event, ImageData):
                yield _response(meta, [_delta(i, [inline_data(event)])])
            elif isinstance(event, Finish):
                finished += 1
                last = _delta(i, [{"text": ""}], finishReason=_FINISH[event.reason])
                done = finished == meta.candidates
                yield _response(meta, [last], usage_metadata(usage) if done else None)


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
