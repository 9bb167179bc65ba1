"""Fold one stream of choice events into a ChatCompletion or a run of chunks.

Both shapes come from the same events, built with the `openai` package's own
response types, so the JSON reply and the SSE stream cannot drift apart.

Images a model drew come as gateways in front of Gemini give them, in
`message.images` (`delta.images`), each an `image_url` holding a data URL.

Thoughts are shown as Vertex shows them, only when `include_thoughts` is set:
inside `content`, before the answer, untagged (then followed by a blank line)
or wrapped in `<tag>…</tag>`; in a stream each thought delta is flagged with
`extra_content.google.thought`. Their tokens are counted either way.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
)
from openai.types.chat.chat_completion import Choice, ChoiceLogprobs
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaFunctionCall,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.chat.chat_completion_chunk import ChoiceLogprobs as ChunkLogprobs
from openai.types.chat.chat_completion_message import FunctionCall
from openai.types.chat.chat_completion_message_tool_call import Function
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails

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


def usage_of(usage: UsageSum) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.prompt,
        completion_tokens=usage.completion,
        total_tokens=usage.prompt + usage.completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.reasoning),
    )


def image_url(image: ImageData) -> dict:
    url = f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def logprobs_of(entries: tuple[TokenLogprob, ...]) -> list[dict]:
    """Token log probabilities in OpenAI's shape."""

    def one(e: TokenLogprob) -> dict:
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


async def to_completion(events: AsyncIterator[ChoiceEvent], meta: ReplyMeta) -> ChatCompletion:
    n, legacy = meta.candidates, meta.legacy
    block = _ThoughtBlock.of(meta)
    thoughts: list[list[str]] = [[] for _ in range(n)]
    texts: list[list[str]] = [[] for _ in range(n)]
    calls: list[list[ToolCall]] = [[] for _ in range(n)]
    images: list[list[dict]] = [[] for _ in range(n)]
    logprobs: list[list[dict] | None] = [None] * n
    finish: list[str] = ["stop"] * n
    usage = UsageSum()
    async for item in events:
        event, i = item.event, item.index
        if isinstance(event, TextDelta):
            texts[i].append(event.text)
            if event.logprobs is not None:
                logprobs[i] = (logprobs[i] or []) + logprobs_of(event.logprobs)
        elif isinstance(event, ThoughtDelta):
            thoughts[i].append(event.text)
        elif isinstance(event, ToolCall):
            calls[i].append(event)
        elif isinstance(event, ImageData):
            images[i].append(image_url(event))
        elif isinstance(event, Usage):
            usage.add(event)
        elif isinstance(event, Finish):
            finish[i] = _finish_reason(event, legacy)

    def message(i: int) -> ChatCompletionMessage:
        shown, text = "".join(thoughts[i]), "".join(texts[i])
        if block is not None and shown:
            text = block.opening + shown + block.closing + text
        fields: dict = {"images": images[i]} if images[i] else {}
        if not calls[i]:
            return ChatCompletionMessage(role="assistant", content=text, refusal=None, **fields)
        content = text if text.strip() else None  # null when the reply is only calls
        if legacy:
            call = calls[i][0]
            fields["function_call"] = FunctionCall(name=call.name, arguments=call.arguments)
        else:
            fields["tool_calls"] = [
                ChatCompletionMessageToolCall(
                    id=c.id, type="function", function=Function(name=c.name, arguments=c.arguments)
                )
                for c in calls[i]
            ]
        return ChatCompletionMessage(role="assistant", content=content, refusal=None, **fields)

    choices = [
        Choice(
            index=i,
            message=message(i),
            finish_reason=finish[i],
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
        usage=usage_of(usage),
    )


async def to_chunks(
    events: AsyncGenerator[ChoiceEvent, None], meta: ReplyMeta, *, include_usage: bool
) -> AsyncGenerator[ChatCompletionChunk | dict, None]:
    """Roles first, then thought, content and call deltas, a finish chunk per choice, usage."""
    block = _ThoughtBlock.of(meta)
    legacy = meta.legacy
    head = {"id": meta.id, "object": "chat.completion.chunk", "created": meta.created}
    head["model"] = meta.model

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

    def text_chunk(i: int, text: str) -> dict:
        """The chunk nearly every token takes, as the SDK's models would write it: built
        as a dict, it costs a third of validating those models once per token."""
        choice = {"index": i, "delta": {"content": text}, "finish_reason": None, "logprobs": None}
        return {**head, "choices": [choice]}

    def thought(i: int, text: str) -> ChatCompletionChunk:
        delta = ChoiceDelta(content=text, extra_content=_THOUGHT_FLAG)
        return chunk([ChunkChoice(index=i, delta=delta, finish_reason=None)])

    def call_deltas(i: int, call: ToolCall) -> list[ChatCompletionChunk]:
        """A call's name (with its id) first, then its arguments."""
        if legacy:
            deltas = [
                ChoiceDelta(function_call=ChoiceDeltaFunctionCall(name=call.name, arguments="")),
                ChoiceDelta(function_call=ChoiceDeltaFunctionCall(arguments=call.arguments)),
            ]
        else:
            named = ChoiceDeltaToolCallFunction(name=call.name, arguments="")
            deltas = [
                ChoiceDelta(
                    tool_calls=[
                        ChoiceDeltaToolCall(
                            index=call.index, id=call.id, type="function", function=named
                        )
                    ]
                ),
                ChoiceDelta(
                    tool_calls=[
                        ChoiceDeltaToolCall(
                            index=call.index,
                            function=ChoiceDeltaToolCallFunction(arguments=call.arguments),
                        )
                    ]
                ),
            ]
        return [chunk([ChunkChoice(index=i, delta=d, finish_reason=None)]) for d in deltas]

    # Every choice is announced in the first chunk, in order: the SDK's stream helpers
    # build their snapshot of all choices from it.
    role = ChoiceDelta(role="assistant", content="")
    yield chunk(
        [ChunkChoice(index=i, delta=role, finish_reason=None) for i in range(meta.candidates)]
    )
    thinking_shown: set[int] = set()  # choices whose thought block is open
    usage = UsageSum()
    async with aclosing(events):  # closed with the stream, not left to the GC
        async for item in events:
            event, i = item.event, item.index
            if isinstance(event, ThoughtDelta):
                if block is not None and event.text:
                    opening = "" if i in thinking_shown else block.opening
                    thinking_shown.add(i)
                    yield thought(i, opening + event.text)
                continue
            if i in thinking_shown and isinstance(event, TextDelta | ImageData | ToolCall | Finish):
                thinking_shown.discard(i)
                assert block is not None  # a thought block opens only where there is one
                yield thought(i, block.closing)
            if isinstance(event, TextDelta) and not event.logprobs:
                yield text_chunk(i, event.text)
            elif isinstance(event, TextDelta) and event.logprobs:
                lp = ChunkLogprobs(content=logprobs_of(event.logprobs), refusal=None)
                delta = ChoiceDelta(content=event.text)
                yield chunk([ChunkChoice(index=i, delta=delta, finish_reason=None, logprobs=lp)])
            elif isinstance(event, ToolCall):
                for call_chunk in call_deltas(i, event):
                    yield call_chunk
            elif isinstance(event, ImageData):
                delta = ChoiceDelta(images=[image_url(event)])
                yield chunk([ChunkChoice(index=i, delta=delta, finish_reason=None)])
            elif isinstance(event, Usage):
                usage.add(event)
            elif isinstance(event, Finish):
                reason = _finish_reason(event, legacy)
                yield chunk([ChunkChoice(index=i, delta=ChoiceDelta(), finish_reason=reason)])
    if include_usage:
        yield chunk([], usage_of(usage))


def _finish_reason(finish: Finish, legacy: bool) -> str:
    return "function_call" if legacy and finish.reason == "tool_calls" else finish.reason
