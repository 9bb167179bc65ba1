"""`POST .../chat/completions`, under Vertex's paths and the plain OpenAI one."""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.generation import budget_headers, start_generation, unless_disconnected
from openvertex.api.openai.paths import route
from openvertex.api.openai.reply import ReplyMeta, to_chunks, to_completion
from openvertex.api.openai.request import ChatCompletionRequest, to_generation_request
from openvertex.api.openapi import CHAT_DOCS
from openvertex.api.sse import sse_response
from openvertex.errors import NotFound
from openvertex.serving.registry import ServedModel
from openvertex.serving.service import GenerationService

router = APIRouter()


@route(router, "POST", "/chat/completions", **CHAT_DOCS)
async def chat_completions(request: Request, principal: BilledCaller, ctx: Context) -> Any:
    service = ctx.service
    service.check_room()  # a full server refuses before reading the body
    body = await parse_body(request, ChatCompletionRequest, service.registry)
    served = served_model(service, body.model)
    request.state.record.model = served.name  # a served name: metric labels stay bounded
    generation = await asyncio.to_thread(  # schemas and inline media cost CPU: off the loop
        to_generation_request,
        body,
        temperature=served.temperature,
        top_p=served.top_p,
        effort_budgets=served.effort_budgets,
    )
    events = await start_generation(request, service, served, generation, principal)
    google = body.google_extras
    meta = ReplyMeta(
        id=f"chatcmpl-{secrets.token_hex(12)}",
        created=int(time.time()),
        model=body.model,
        candidates=generation.candidates,
        include_thoughts=generation.thinking.include_thoughts,
        thought_tag=google.thought_tag_marker,
        legacy=body.functions is not None,
    )
    headers = budget_headers(generation)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(to_chunks(events, meta, include_usage=include_usage), headers=headers)
    async with aclosing(events):
        reply = await unless_disconnected(request, to_completion(events, meta))
    return JSONResponse(reply.model_dump(mode="json", exclude_unset=True), headers=headers)


def served_model(service: GenerationService, name: str) -> ServedModel:
    served = service.registry.find(name)
    if served is None:
        raise NotFound(
            f"Model {name!r} is not served here. Served models: "
            + ", ".join(service.registry.names)
            + ".",
            param="model",
        )
    return served
