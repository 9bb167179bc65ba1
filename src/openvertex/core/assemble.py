"""Turn one stream of choice events into a ChatCompletion or a run of chunks.

Both shapes come from the same events, built with the `openai` package's own
response types, so the JSON reply and the SSE stream cannot drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice, ChoiceLogprobs
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.chat.chat_completion_chunk import ChoiceLogprobs as ChunkLogprobs
from openai.types.completion_usage import PromptTokensDetails

from openvertex.core.request import ChoiceEvent, Finish, TextDelta, Usage


@dataclass(frozen=True, slots=True)
class ReplyMeta:
    id: str
    created: int
    model: str


class _UsageTotal:
    """Usage over all choices: the prompt is counted once, completions per choice."""

    def __init__(self) -> None:
        self.prompt = self.completion = self.cached = 0

    def add(self, usage: Usage) -> None:
        self.prompt = max(self.prompt, usage.prompt_tokens)
        self.cached = max(self.cached, usage.cached_tokens)
        self.completion += usage.completion_tokens

    def to_openai(self) -> CompletionUsage:
        return CompletionUsage(
            prompt_tokens=self.prompt,
            completion_tokens=self.completion,
            total_tokens=self.prompt + self.completion,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=self.cached),
        )


async def to_completion(
    events: AsyncIterator[ChoiceEvent], meta: ReplyMeta, n: int
) -> ChatCompletion:
    texts: list[list[str]] = [[] for _ in range(n)]
    logprobs: list[list[dict] | None] = [None] * n
    finish: list[str] = ["stop"] * n
    usage = _UsageTotal()
    async for item in events:
        event, i = item.event, item.index
        if isinstance(event, TextDelta):
            texts[i].append(event.text)
            if event.logprobs is not None:
                logprobs[i] = (logprobs[i] or []) + event.logprobs
        elif isinstance(event, Usage):
            usage.add(event)
        elif isinstance(event, Finish):
            finish[i] = event.reason
    choices = [
        Choice(
            index=i,
            message=ChatCompletionMessage(
                role="assistant", content="".join(texts[i]), refusal=None
            ),
            finish_reason=finish[i],  # type: ignore[arg-type]
            logprobs=ChoiceLogprobs(content=logprobs[i], refusal=None) if logprobs[i] else None,
        )
        for i in range(n)
    ]
    return ChatCompletion(
        id=meta.id,
        object="chat.completion",
        created=meta.created,
        model=meta.model,
        choices=choices,
        usage=usage.to_openai(),
    )


async def to_chunks(
    events: AsyncIterator[ChoiceEvent], meta: ReplyMeta, *, include_usage: bool
) -> AsyncIterator[ChatCompletionChunk]:
    """Role first, then content deltas, a finish chunk per choice, then usage if asked."""

    def chunk(
        choices: list[ChunkChoice], usage: CompletionUsage | None = None
    ) -> ChatCompletionChunk:
        extra = {"usage": usage} if usage is not None else {}
        return ChatCompletionChunk(
            id=meta.id,
            object="chat.completion.chunk",
            created=meta.created,
            model=meta.model,
            choices=choices,
            **extra,
        )

    started: set[int] = set()
    usage = _UsageTotal()
    async for item in events:
        event, i = item.event, item.index
        if i not in started:
            started.add(i)
            delta = ChoiceDelta(role="assistant", content="")
            yield chunk([ChunkChoice(index=i, delta=delta, finish_reason=None)])
        if isinstance(event, TextDelta):
            lp = ChunkLogprobs(content=event.logprobs, refusal=None) if event.logprobs else None
            delta = ChoiceDelta(content=event.text)
            yield chunk([ChunkChoice(index=i, delta=delta, finish_reason=None, logprobs=lp)])
        elif isinstance(event, Usage):
            usage.add(event)
        elif isinstance(event, Finish):
            yield chunk([ChunkChoice(index=i, delta=ChoiceDelta(), finish_reason=event.reason)])
    if include_usage:
        yield chunk([], usage.to_openai())
