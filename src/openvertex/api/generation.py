"""What every generating route does over HTTP, whatever its wire: start, watch, answer.

A route parses its wire into a `GenerationRequest` and hands it here; the
service runs it. While the request waits (for a slot, its first token, or a
whole JSON reply) the client is watched: one that leaves cancels the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable
from typing import TypeVar

from fastapi import Request

from openvertex.auth.credentials import Principal
from openvertex.core.events import ChoiceEvent
from openvertex.core.request import GenerationRequest
from openvertex.errors import ClientClosedRequest
from openvertex.serving.registry import ServedModel
from openvertex.serving.service import GenerationService

BUDGET_HEADER = "x-openvertex-thinking-budget"
T = TypeVar("T")


async def start_generation(
    http: Request,
    service: GenerationService,
    served: ServedModel,
    request: GenerationRequest,
    caller: Principal,
) -> AsyncGenerator[ChoiceEvent, None]:
    """The reply's events, its first one already produced; a 4xx or 5xx raises here."""
    record = http.state.record
    return await unless_disconnected(http, service.start(served, request, caller, record))


def budget_headers(request: GenerationRequest) -> dict[str, str]:
    """The thinking budget the engine was given; none when the model's default applies."""
    budget = request.thinking.budget
    return {} if budget is None else {BUDGET_HEADER: str(budget)}


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, but cancel it (freeing its place or slot) if the client goes away.

    uvicorn does not cancel a handler whose client left, so while a request waits
    for a slot or its first token, or for a whole JSON reply, this watches.
    """

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # let it clean up (close its generation) before going on
    if task.cancelled():
        raise ClientClosedRequest("The client closed the connection.")
    return task.result()
