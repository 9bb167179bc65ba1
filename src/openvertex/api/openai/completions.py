"""`POST .../completions`: OpenAI's legacy Completions API, prompt in, text out.

The model continues each prompt as it is (no chat template, no thinking), through
the same service as chat: auth, quotas, slots, metering and the ledger. Only the
embedded engine continues raw text; an upstream refuses with a 400.

Several prompts in one request are generated one after another by the service
(`start_in_turn`), billed and ledgered as one request.
"""

from __future__ import annotations

import functools
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.generation import read_requests, served_model, start_generation, whole_reply
from openvertex.api.openai.completion_reply import (
    TextReplyMeta,
    to_text_chunks,
    to_text_completion,
)
from openvertex.api.openai.completion_request import CompletionRequest, to_generation_requests
from openvertex.api.openai.docs import COMPLETIONS_DOCS
from openvertex.api.openai.paths import route
from openvertex.api.sse import sse_response

router = APIRouter()


@route(router, "POST", "/completions", **COMPLETIONS_DOCS)
async def completions(request: Request, principal: BilledCaller, ctx: Context) -> Any:
    service = ctx.service
    service.check_room()  # a full server refuses before reading the body
    body = await parse_body(request, CompletionRequest, service.registry)
    served = served_model(request, service, body.model)
    parse = functools.partial(to_generation_requests, body)
    generations = await read_requests(request, service, served, parse)
    events = await start_generation(request, service, served, generations, principal)
    meta = TextReplyMeta(
        id=f"cmpl-{secrets.token_hex(12)}",
        created=int(time.time()),
        model=body.model,
        prompts=body.prompts,
        n=body.n or 1,
        echo=bool(body.echo),
        logprobs=body.logprobs is not None,
    )
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(to_text_chunks(events, meta, include_usage=include_usage))
    return await whole_reply(request, events, functools.partial(to_text_completion, meta=meta))
