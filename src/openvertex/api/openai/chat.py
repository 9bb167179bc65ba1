"""`POST .../chat/completions`, under Vertex's paths and the plain OpenAI one."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.gemini.caches import find_cache, with_cache
from openvertex.api.generation import (
    budget_headers,
    read_request,
    served_model,
    start_generation,
    whole_reply,
)
from openvertex.api.openai.docs import CHAT_DOCS
from openvertex.api.openai.paths import route
from openvertex.api.openai.reply import ReplyMeta, to_chunks, to_completion
from openvertex.api.openai.request import ChatCompletionRequest, to_generation_request
from openvertex.api.request_size import SizeLimit, named_context, openai_size
from openvertex.api.sse import sse_response
from openvertex.core.request import GenerationRequest

router = APIRouter()


@route(router, "POST", "/chat/completions", **CHAT_DOCS)
async def chat_completions(request: Request, principal: BilledCaller, ctx: Context) -> Any:
    service = ctx.service
    service.check_room()  # a full server refuses before reading the body
    limit = SizeLimit(openai_size, named_context(service.registry), "messages")
    body = await parse_body(request, ChatCompletionRequest, service.registry, limit=limit)
    served = served_model(request, service, body.model)
    parse: Callable[[], GenerationRequest] = functools.partial(
        to_generation_request, body, ctx.signatures
    )
    if (cache_name := body.google_extras.cached_content) is not None:
        parse = with_cache(parse, await find_cache(ctx, principal, cache_name))
    generation = await read_request(request, service, served, parse)
    events = await start_generation(request, service, served, generation, principal)
    meta = ReplyMeta(
        id=f"chatcmpl-{secrets.token_hex(12)}",
        created=int(time.time()),
        model=body.model,
        candidates=generation.candidates,
        include_thoughts=generation.thinking.include_thoughts,
        thought_tag=body.google_extras.thought_tag_marker,
        legacy=body.functions is not None,
        sign=ctx.signatures.signer(body.model),
    )
    headers = budget_headers(generation)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(to_chunks(events, meta, include_usage=include_usage), headers=headers)
    return await whole_reply(request, events, functools.partial(to_completion, meta=meta), headers)
