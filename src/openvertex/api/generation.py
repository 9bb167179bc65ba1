"""What every generating route does over HTTP, whatever its wire: find, read, start, answer.

A route finds the served model (`served_model`), reads its wire into wire-neutral
requests (`read_requests`: parsed off the loop, the model's policy applied by the
service), starts them (`start_generation`), and answers with its stream or its
whole reply (`whole_reply`). While the request waits (for a slot, its first token,
or a whole JSON reply) the client is watched: one that leaves cancels the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from openvertex.auth.credentials import Principal
from openvertex.core.events import ChoiceEvent
from openvertex.core.request import GenerationRequest
from openvertex.errors import ClientClosedRequest, FailedPrecondition, NotFound
from openvertex.serving import gemini_models
from openvertex.serving.registry import ServedModel
from openvertex.serving.service import GenerationService

BUDGET_HEADER = "x-openvertex-thinking-budget"
T = TypeVar("T")


def served_model(
    http: Request, service: GenerationService, name: str, *, missing: str | None = None
) -> ServedModel:
    """The model a request names, now on its record; or a 404 saying `missing` and
    listing the served ones (for a model that draws, a 400 saying how to serve one)."""
    served = service.registry.find(name)
    if served is None and gemini_models.draws(name):
        raise FailedPrecondition(
            f"Model {name!r} draws images, and is not served here. {service.drawers()}",
            param="model",
        )
    if served is None:
        said = missing or f"Model {name!r} is not served here."
        raise NotFound(
            f"{said} Served models: {', '.join(service.registry.names)}.",
            param=None if missing else "model",
        )
    http.state.record.model = served.name  # a served name: metric labels stay bounded
    return served


async def read_requests(
    http: Request,
    service: GenerationService,
    served: ServedModel,
    parse: Callable[[], Sequence[GenerationRequest]],
) -> list[GenerationRequest]:
    """The wire's requests, parsed off the loop (schemas and inline media cost CPU),
    with the served model's policy applied."""
    requests = await asyncio.to_thread(parse)
    return [service.resolve(served, request) for request in requests]


async def read_request(
    http: Request,
    service: GenerationService,
    served: ServedModel,
    parse: Callable[[], GenerationRequest],
) -> GenerationRequest:
    """`read_requests` for a wire that asks one thing at a time."""
    (request,) = await read_requests(http, service, served, lambda: [parse()])
    return request


async def start_generation(
    http: Request,
    service: GenerationService,
    served: ServedModel,
    requests: GenerationRequest | list[GenerationRequest],
    caller: Principal,
) -> AsyncGenerator[ChoiceEvent, None]:
    """The reply's events, its first one already produced; a 4xx or 5xx raises here."""
    record = http.state.record
    if isinstance(requests, GenerationRequest):
        return await unless_disconnected(http, service.start(served, requests, caller, record))
    return await unless_disconnected(http, service.start_in_turn(served, requests, caller, record))


async def whole_reply(
    http: Request,
    events: AsyncGenerator[ChoiceEvent, None],
    fold: Callable[[AsyncGenerator[ChoiceEvent, None]], Awaitable[Any]],
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The events folded into one JSON reply, unless the client leaves first."""
    async with contextlib.aclosing(events):
        reply = await unless_disconnected(http, fold(events))
    return JSONResponse(reply, headers=headers)


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
