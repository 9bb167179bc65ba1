"""An OpenAI-compatible server's reply (stream chunks, or one JSON body) as openvertex events.

Reasoning deltas (`reasoning_content` from vLLM before 0.10 and llama.cpp,
`reasoning` since; or Vertex's `extra_content.google.thought` flag, when the
upstream is another openvertex) become thoughts. Tool-call deltas are gathered
per index and become one `ToolCall` each once complete: when a later call
starts, or at the finish. Usage comes last in a stream (asked for with
`stream_options`), so the finish is held until then: every engine yields its
`Usage` before its `Finish`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from openvertex.core.events import (
    Event,
    Finish,
    FinishReason,
    TextDelta,
    ThoughtDelta,
    TokenLogprob,
    Usage,
)
from openvertex.core.request import ToolCall

_FINISH: dict[str, FinishReason] = {"length": "length", "tool_calls": "tool_calls",
                                    "function_call": "tool_calls"}  # fmt: skip


@dataclass(slots=True)
class _Call:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class ReplyReader:
    """Feed it chunks (or one whole reply); it answers with events."""

    calls: dict[int, _Call] = field(default_factory=dict)
    sent_calls: int = 0
    finish: FinishReason | None = None
    usage: Usage | None = None
    pieces: int = 0  # text and thought deltas, for a reply that reports no usage

    def chunk(self, chunk: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            out += self._content(delta, choice.get("logprobs"))
            for call in delta.get("tool_calls") or []:
                index = call.get("index", 0)
                out += self._flush_calls(before=index)
                gathered = self.calls.setdefault(index, _Call())
                function = call.get("function") or {}
                gathered.id = call.get("id") or gathered.id
                gathered.name += function.get("name") or ""
                gathered.arguments += function.get("arguments") or ""
            if reason := choice.get("finish_reason"):
                self.finish = _FINISH.get(reason, "stop")
        if chunk.get("usage"):
            self.usage = usage_of(chunk["usage"])
        return out

    def whole(self, reply: dict[str, Any]) -> list[Event]:
        """A non-streamed reply: the same events a stream of it would give."""
        choice = (reply.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        out = self._content(message, choice.get("logprobs"))
        for index, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") or {}
            self.calls[index] = _Call(call.get("id") or "", function.get("name") or "",
                                      function.get("arguments") or "")  # fmt: skip
        self.finish = _FINISH.get(choice.get("finish_reason") or "", "stop")
        if reply.get("usage"):
            self.usage = usage_of(reply["usage"])
        return out + self.end()

    def end(self) -> list[Event]:
        """What is held back until the reply is over: the last calls, usage, the finish."""
        out = self._flush_calls(before=None)
        out.append(self.usage or Usage(0, self.pieces))
        out.append(Finish(self.finish or "stop"))
        return out

    def _content(self, delta: dict[str, Any], logprobs: dict[str, Any] | None) -> list[Event]:
        out: list[Event] = []
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if thought:
            out.append(ThoughtDelta(thought))
        text = delta.get("content")
        if text:
            flags = (delta.get("extra_content") or {}).get("google") or {}
            if flags.get("thought"):
                out.append(ThoughtDelta(text))
            else:
                entries = (logprobs or {}).get("content")
                out.append(TextDelta(text, _logprobs(entries) if entries else None))
        self.pieces += len(out)
        return out

    def _flush_calls(self, before: int | None) -> list[Event]:
        done = sorted(i for i in self.calls if before is None or i < before)
        out: list[Event] = []
        for index in done:
            call = self.calls.pop(index)
            call_id = call.id or f"call_{secrets.token_hex(12)}"
            out.append(ToolCall(self.sent_calls, call_id, call.name, call.arguments or "{}"))
            self.sent_calls += 1
        return out


def usage_of(usage: dict[str, Any]) -> Usage:
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
        cached_tokens=prompt.get("cached_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
    )


def _logprobs(entries: list[dict[str, Any]]) -> tuple[TokenLogprob, ...]:
    def one(e: dict[str, Any], top: tuple[TokenLogprob, ...] = ()) -> TokenLogprob:
        raw = e.get("bytes")
        return TokenLogprob(e.get("token", ""), e.get("logprob", 0.0), tuple(raw) if raw else None,
                            top)  # fmt: skip

    return tuple(one(e, tuple(one(t) for t in e.get("top_logprobs") or [])) for e in entries)
