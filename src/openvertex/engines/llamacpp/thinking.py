"""Thinking with a budget that holds to the token: think first, then answer.

Any engine that can continue a raw prompt (and keeps its KV cache between two
calls with a shared prefix) gets thinking from `think_then_answer`:

1. The prompt ends with an open thinking marker; the model thinks until it
   closes the block itself, ends its turn, or reaches the budget, whichever
   comes first. Nothing constrains the thoughts.
2. openvertex closes the block (if the model did not), and the model writes the
   answer continuing from prompt + thoughts. The prompt is a prefix of the
   second call's, so the cache evaluates only the closing marker.

A model trained to think (its chat template knows `<think>` or similar) keeps
its own markers. A model that was not (the embedded SmolLM2) is told in its
system turn to think inside `<think>…</think>`, and openvertex opens that block
for it: the thoughts of such a model are prompted, not trained.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from openvertex.core.events import Event, Finish, TextDelta, ThoughtDelta, Usage
from openvertex.core.reasoning import DYNAMIC
from openvertex.engines.prompted.turns import Turn, with_system_instruction


@dataclass(frozen=True, slots=True)
class ThinkingMarkers:
    open: str
    close: str
    native: bool  # the model was trained to think between them


_NATIVE = (
    ("<think>", "</think>"),  # Qwen3, DeepSeek-R1 and its distills
    ("[THINK]", "[/THINK]"),  # Magistral
    ("<|START_THINKING|>", "<|END_THINKING|>"),  # Command A Reasoning
)
PROMPTED = ThinkingMarkers("<think>", "</think>", native=False)

INSTRUCTION = (
    "First think the question through step by step, briefly, between <think> and </think>. "
    "Then, after </think>, give your answer."
)


def markers_for(chat_template: str) -> ThinkingMarkers:
    """The thinking markers a chat template uses, or openvertex's prompted ones."""
    for open_, close in _NATIVE:
        if open_ in chat_template and close in chat_template:
            return ThinkingMarkers(open_, close, native=True)
    return PROMPTED


def effective_budget(requested: int | None, markers: ThinkingMarkers) -> int:
    """No budget asked: a thinking model thinks as it likes, any other does not think."""
    if requested is None:
        return DYNAMIC if markers.native else 0
    return requested


def thinking_messages(
    messages: tuple[Turn, ...], budget: int, markers: ThinkingMarkers
) -> tuple[Turn, ...]:
    """The conversation as the model should see it: prompted models are told how to think."""
    if budget == 0 or markers.native:
        return messages
    return with_system_instruction(messages, INSTRUCTION)


@dataclass(frozen=True, slots=True)
class Phase:
    prompt: str
    max_tokens: int
    # Set while thinking: stop at this marker; no grammar, stop sequences or logprobs.
    think_until: str | None = None
    # Set for an answer after thoughts: a model that opens a second thinking block is
    # done answering (that text would be thoughts shown as answer).
    answer_until: str | None = None


Complete = Callable[[Phase], AsyncGenerator[Event, None]]


async def think_then_answer(
    complete: Complete, prompt: str, *, budget: int, limit: int, markers: ThinkingMarkers
) -> AsyncGenerator[Event, None]:
    """Events of thoughts (at most `budget` tokens) then the answer, `limit` tokens in all."""
    if budget == 0:
        if markers.native:  # an empty thinking block tells a thinking model to answer now
            prompt = _opened(prompt, markers) + f"\n\n{markers.close}\n\n"
        async with aclosing(complete(Phase(prompt, limit))) as events:
            async for event in events:
                yield event
        return

    prompt = _opened(prompt, markers) + "\n"
    think_limit = limit if budget == DYNAMIC else min(budget, limit)
    thoughts: list[str] = []
    spent = Usage(0, 0)
    finish = Finish("stop")
    async with aclosing(complete(Phase(prompt, think_limit, markers.close))) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                thoughts.append(event.text)
                yield ThoughtDelta(event.text)
            elif isinstance(event, Usage):
                spent = event
            elif isinstance(event, Finish):
                finish = event
    reasoning = spent.completion_tokens
    out_of_room = reasoning >= limit or (finish.reason == "length" and reasoning < think_limit)
    if out_of_room:  # max_tokens or the context ran out while thinking: no answer fits
        yield Usage(spent.prompt_tokens, reasoning, spent.cached_tokens, reasoning)
        yield Finish("length")
        return

    text = "".join(thoughts)
    answer_prompt = prompt + text + ("" if text.endswith("\n") else "\n") + markers.close + "\n\n"
    answer = Phase(answer_prompt, limit - reasoning, answer_until=markers.open)
    async with aclosing(complete(answer)) as events:
        async for event in events:
            if isinstance(event, Usage):
                event = Usage(
                    prompt_tokens=spent.prompt_tokens,
                    completion_tokens=reasoning + event.completion_tokens,
                    cached_tokens=spent.cached_tokens,
                    reasoning_tokens=reasoning,
                )
            yield event


def _opened(prompt: str, markers: ThinkingMarkers) -> str:
    """The prompt ending in the open marker (some templates already add it)."""
    stripped = prompt.rstrip()
    return stripped if stripped.endswith(markers.open) else prompt + markers.open
