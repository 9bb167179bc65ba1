"""`POST .../chat/completions`, under Vertex's path and the plain OpenAI one."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openvertex.api.body import parse_body
from openvertex.api.deps import CurrentPrincipal
from openvertex.api.openapi import CHAT_DOCS
from openvertex.api.sse import sse_response
from openvertex.core.assemble import ReplyMeta, to_chunks, to_completion
from openvertex.core.chat_request import ChatCompletionRequest, to_generation_request
from openvertex.core.choices import generate_choices
from openvertex.core.request import ChoiceEvent
from openvertex.errors import Unavailable
from openvertex.serving.metering import metered
from openvertex.serving.record import RequestRecord

VERTEX_PREFIX = "/v1/projects/{project}/locations/{location}/endpoints/openapi"
BUDGET_HEADER = "x-openvertex-thinking-budget"

router = APIRouter()


@router.post("/v1/chat/completions", **CHAT_DOCS)
@router.post(VERTEX_PREFIX + "/chat/completions", **CHAT_DOCS)
async def chat_completions(request: Request, principal: CurrentPrincipal) -> Any:
    state = request.app.state
    record: RequestRecord = request.state.record
    record.project, record.principal = principal.project, principal.subject
    body = await parse_body(request, ChatCompletionRequest)
    record.model = body.model
    engine = state.registry.resolve(body.model)
    if not engine.ready:
        raise Unavailable("The model is not loaded yet; retry in a moment.")
    state.quotas.admit(principal.project)
    # Slots (one per choice) held until the reply ends, or a fast 429.
    await state.admission.enter(record, choices=body.n or 1)
    extraction = None
    if state.media is not None and "image" not in engine.info.input_modalities:
        body, extraction = await state.media.to_text(body)  # a text model: describe media
    settings = state.settings
    model_id = state.registry.find_id(body.model)
    generation = to_generation_request(
        body,
        temperature=settings.default_temperature,
        top_p=settings.default_top_p,
        effort_budgets=settings.effort_budgets_for(model_id),
        tools_supported=model_id not in settings.models_without_tools,
    )
    if extraction is not None:  # "transcribe this": the reply is what Whisper/OCR read
        generation = dataclasses.replace(generation, constraint=extraction)
    meta = ReplyMeta(
        id=f"chatcmpl-{secrets.token_hex(12)}", created=int(time.time()), model=body.model
    )
    thinking = generation.thinking
    # The budget the engine was given; absent when the model's default applies.
    headers = {} if thinking.budget is None else {BUDGET_HEADER: str(thinking.budget)}
    events = metered(state.drain.cut(generate_choices(engine, generation)), record)

    if body.stream:
        # Wait for the first event so that a refused prompt still gets a 4xx status.
        first = await anext(events)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = to_chunks(_prepend(first, events), meta, generation, include_usage=include_usage)
        return sse_response(chunks, headers=headers)

    async with aclosing(events):
        reply = await _unless_disconnected(request, to_completion(events, meta, generation))
    return JSONResponse(reply.model_dump(mode="json", exclude_unset=True), headers=headers)


async def _prepend(
    first: ChoiceEvent, rest: AsyncIterator[ChoiceEvent]
) -> AsyncIterator[ChoiceEvent]:
    async with aclosing(rest):
        yield first
        async for item in rest:
            yield item


async def _unless_disconnected(request: Request, work: Any) -> Any:
    """Run `work`, but cancel it (freeing its engine slot) if the client goes away."""

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
    return await task
