"""`POST .../chat/completions`, under Vertex's path and the plain OpenAI one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openvertex.api.body import parse_body
from openvertex.api.deps import CurrentPrincipal
from openvertex.api.openapi import CHAT_DOCS
from openvertex.api.sse import sse_response
from openvertex.core.assemble import ReplyMeta, to_chunks, to_completion
from openvertex.core.chat_request import ChatCompletionRequest, to_generation_request
from openvertex.core.choices import generate_choices
from openvertex.core.request import ChoiceEvent, GenerationRequest
from openvertex.errors import ClientClosedRequest, Unavailable
from openvertex.serving.metering import metered
from openvertex.serving.record import RequestRecord

VERTEX_PREFIX = "/v1/projects/{project}/locations/{location}/endpoints/openapi"
BUDGET_HEADER = "x-openvertex-thinking-budget"

router = APIRouter()
T = TypeVar("T")


@router.post("/v1/chat/completions", **CHAT_DOCS)
@router.post(VERTEX_PREFIX + "/chat/completions", **CHAT_DOCS)
async def chat_completions(request: Request, principal: CurrentPrincipal) -> Any:
    state = request.app.state
    record: RequestRecord = request.state.record
    record.project, record.principal = principal.project, principal.subject
    state.admission.check_room()  # a full server refuses before reading the body
    body = await parse_body(request, ChatCompletionRequest)
    engine = state.registry.resolve(body.model)
    record.model = body.model  # a served name: metric labels stay bounded
    if not engine.ready:
        raise Unavailable("The model is not loaded yet; retry in a moment.")
    reads_media = state.media is not None and "image" not in engine.info.input_modalities
    # Every 400 comes before any quota or slot is spent; media parts are read later.
    generation = _generation(state, state.media.placeholders(body) if reads_media else body)

    state.quotas.admit(principal.project)
    try:  # slots, one per choice, held until the reply ends; or a fast 429
        enter = state.admission.enter(record, choices=generation.n)
        await _unless_disconnected(request, state.drain.bounded(enter))
    except BaseException:
        state.quotas.refund(principal.project)
        raise
    if reads_media:  # a text model: media become what OCR and Whisper read in them
        body, extraction = await state.media.to_text(body)
        generation = _generation(state, body)
        if extraction is not None:  # "transcribe this": the reply is exactly what was read
            generation = dataclasses.replace(generation, constraint=extraction)
    meta = ReplyMeta(
        id=f"chatcmpl-{secrets.token_hex(12)}", created=int(time.time()), model=body.model
    )
    thinking = generation.thinking
    # The budget the engine was given; absent when the model's default applies.
    headers = {} if thinking.budget is None else {BUDGET_HEADER: str(thinking.budget)}
    events = generate_choices(engine, generation)
    events = metered(state.drain.cut(events), record, choices=generation.n)

    if body.stream:
        # Wait for the first event so that a refused prompt still gets a 4xx status.
        first = await _unless_disconnected(request, anext(events))
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = to_chunks(_prepend(first, events), meta, generation, include_usage=include_usage)
        return sse_response(chunks, headers=headers)

    async with aclosing(events):
        reply = await _unless_disconnected(request, to_completion(events, meta, generation))
    return JSONResponse(reply.model_dump(mode="json", exclude_unset=True), headers=headers)


def _generation(state: Any, body: ChatCompletionRequest) -> GenerationRequest:
    settings = state.settings
    model_id = state.registry.find_id(body.model)
    return to_generation_request(
        body,
        temperature=settings.default_temperature,
        top_p=settings.default_top_p,
        effort_budgets=settings.effort_budgets_for(model_id),
        tools_supported=model_id not in settings.models_without_tools,
    )


async def _prepend(
    first: ChoiceEvent, rest: AsyncIterator[ChoiceEvent]
) -> AsyncIterator[ChoiceEvent]:
    async with aclosing(rest):
        yield first
        async for item in rest:
            yield item


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
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
