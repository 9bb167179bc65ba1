"""Run the candidates of one request side by side on the engine's parallel slots.

llama.cpp's server refuses `n > 1`; running the candidates as separate generations
lets continuous batching decode them together. A request with a seed gives
candidate i the seed `seed + i`, so candidates differ but the whole reply reproduces.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

from openvertex.core.events import ChoiceEvent
from openvertex.core.request import GenerationRequest

if TYPE_CHECKING:
    from openvertex.engines.base import Engine

_DONE = object()


def _for_candidate(request: GenerationRequest, index: int) -> GenerationRequest:
    seed = request.sampling.seed
    sampling = request.sampling
    if seed is not None:
        sampling = dataclasses.replace(sampling, seed=seed + index)
    return dataclasses.replace(request, sampling=sampling, candidates=1)


async def generate_candidates(
    engine: Engine, request: GenerationRequest
) -> AsyncGenerator[ChoiceEvent, None]:
    """Yield the events of all candidates, interleaved as they are produced."""
    if request.candidates == 1:
        async with aclosing(engine.generate(request)) as events:  # its slot freed at once
            async for event in events:
                yield ChoiceEvent(0, event)
        return

    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump(index: int) -> None:
        try:
            async with aclosing(engine.generate(_for_candidate(request, index))) as events:
                async for event in events:
                    await queue.put(ChoiceEvent(index, event))
        except Exception as exc:  # handed to the consumer, which raises it
            await queue.put(exc)
        finally:
            await queue.put(_DONE)

    tasks = [asyncio.create_task(pump(i)) for i in range(request.candidates)]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield item  # type: ignore[misc]  # past the sentinel and errors: a ChoiceEvent
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
