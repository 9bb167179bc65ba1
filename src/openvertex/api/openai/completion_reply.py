"""Fold one stream of choice events into a legacy Completion, or a run of its pieces.

This API streams the very object it answers whole (`text_completion`), so both
come from one mapping: events become pieces of choices, which are sent as they
come or joined into the reply. Choices are numbered prompt-major (for 2 prompts
and n=2: 0 and 1 continue the first prompt, 2 and 3 the second), and usage counts
each prompt once, however many choices continue it.

Log probabilities take the legacy shape: `tokens`, `token_logprobs`, `top_logprobs`
(one {token: logprob} per token) and `text_offset`, each token's character offset
from the start of the prompt, as OpenAI counts it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from openvertex.api.openai.reply import usage_of
from openvertex.core.events import ChoiceEvent, Finish, TextDelta, TokenLogprob, Usage, UsageSum

_LOGPROB_FIELDS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")


@dataclass(frozen=True, slots=True)
class TextReplyMeta:
    """What the reply says besides the events, and how it shows them."""

    id: str
    created: int
    model: str
    prompts: tuple[str, ...]
    n: int = 1  # choices per prompt
    echo: bool = False  # each choice's text starts with its prompt
    logprobs: bool = False


class _Pieces:
    """Events as pieces of choices: `{index, text, logprobs, finish_reason}`."""

    def __init__(self, meta: TextReplyMeta) -> None:
        self.meta = meta
        choices = range(len(meta.prompts) * meta.n)
        self.offsets = [len(meta.prompts[i // meta.n]) for i in choices]  # text_offset so far
        self.usage = [UsageSum() for _ in meta.prompts]

    def opening(self) -> Iterator[dict[str, Any]]:
        """The echoed prompts, before anything is generated."""
        if self.meta.echo:
            for i in range(len(self.offsets)):
                yield _piece(i, self.meta.prompts[i // self.meta.n])

    def of(self, item: ChoiceEvent) -> dict[str, Any] | None:
        event, i = item.event, item.index
        if isinstance(event, TextDelta):
            lp = self._logprobs(i, event.logprobs or ()) if self.meta.logprobs else None
            return _piece(i, event.text, lp)
        if isinstance(event, Finish):
            return _piece(i, "", finish="length" if event.reason == "length" else "stop")
        if isinstance(event, Usage):
            self.usage[i // self.meta.n].add(event)
        return None  # no thoughts, calls or images in a plain continuation

    def total_usage(self) -> dict[str, Any]:
        total = UsageSum()
        for each in self.usage:
            total.prompt += each.prompt
            total.completion += each.completion
            total.cached += each.cached
            total.reasoning += each.reasoning
        return usage_of(total)

    def _logprobs(self, i: int, entries: tuple[TokenLogprob, ...]) -> dict[str, list]:
        offsets = []
        for e in entries:
            offsets.append(self.offsets[i])
            self.offsets[i] += len(e.token)
        return {
            "tokens": [e.token for e in entries],
            "token_logprobs": [e.logprob for e in entries],
            # The sampled token too, as OpenAI gives it: up to `logprobs` + 1 entries.
            "top_logprobs": [{t.token: t.logprob for t in (*e.top, e)} for e in entries],
            "text_offset": offsets,
        }


def _piece(
    index: int, text: str, logprobs: dict[str, list] | None = None, finish: str | None = None
) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}


async def to_text_chunks(
    events: AsyncGenerator[ChoiceEvent, None], meta: TextReplyMeta, *, include_usage: bool
) -> AsyncGenerator[dict[str, Any], None]:
    """Each piece as a chunk, as it comes; then the usage, if asked for."""
    pieces = _Pieces(meta)
    head = {"id": meta.id, "object": "text_completion", "created": meta.created,
            "model": meta.model}  # fmt: skip
    piece: dict[str, Any] | None
    for piece in pieces.opening():
        yield {**head, "choices": [piece]}
    async with aclosing(events):  # closed with the stream, not left to the GC
        async for item in events:
            if (piece := pieces.of(item)) is not None:
                yield {**head, "choices": [piece]}
    if include_usage:
        yield {**head, "choices": [], "usage": pieces.total_usage()}


async def to_text_completion(
    events: AsyncIterator[ChoiceEvent], meta: TextReplyMeta
) -> dict[str, Any]:
    """The pieces of every choice, joined."""
    pieces = _Pieces(meta)
    count = len(meta.prompts) * meta.n
    texts: list[list[str]] = [[] for _ in range(count)]
    logprobs: list[dict[str, list]] = [{f: [] for f in _LOGPROB_FIELDS} for _ in range(count)]
    finish = ["stop"] * count

    def join(piece: dict[str, Any]) -> None:
        i = piece["index"]
        texts[i].append(piece["text"])
        for name, values in (piece["logprobs"] or {}).items():
            logprobs[i][name] += values
        finish[i] = piece["finish_reason"] or finish[i]

    piece: dict[str, Any] | None
    for piece in pieces.opening():
        join(piece)
    async for item in events:
        if (piece := pieces.of(item)) is not None:
            join(piece)
    choices = [
        {
            "index": i,
            "text": "".join(texts[i]),
            "finish_reason": finish[i],
            "logprobs": logprobs[i] if meta.logprobs else None,
        }
        for i in range(count)
    ]
    return {"id": meta.id, "object": "text_completion", "created": meta.created,
            "model": meta.model, "choices": choices, "usage": pieces.total_usage()}  # fmt: skip
