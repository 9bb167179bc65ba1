"""`POST .../completions`: OpenAI's legacy Completions API, prompt in, text out.

The model continues each prompt as it is (no chat template, no thinking), through
the same service as chat: auth, quotas, slots, metering and the ledger. Only the
embedded engine continues raw text; an upstream refuses with a 400.

Several prompts in one request are generated one after another, each as the
service runs any request (its own quota count and slots, freed as soon as it is
done, so a long list never waits on slots it holds itself); their tokens add up
on this request's record, billed and ledgered as one request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.generation import start_generation, unless_disconnected
from openvertex.api.openai.chat import served_model
from openvertex.api.openai.completion_reply import (
    TextReplyMeta,
    to_text_chunks,
    to_text_completion,
)
from openvertex.api.openai.completion_request import CompletionRequest, to_generation_requests
from openvertex.api.openai.paths import route
from openvertex.api.openapi import COMPLETIONS_DOCS
from openvertex.api.sse import sse_response
from openvertex.auth.credentials import Principal
from openvertex.core.events import ChoiceEvent
from openvertex.core.request import GenerationRequest
from openvertex.errors import OpenVertexError
from openvertex.serving.record import RequestRecord
from openvertex.serving.registry import ServedModel
from openvertex.serving.service import GenerationService, prepend

router = APIRouter()


@route(router, "POST", "/completions", **COMPLETIONS_DOCS)
async def completions(request: Request, principal: BilledCaller, ctx: Context) -> Any:
    service = ctx.service
    service.check_room()  # a full server refuses before reading the body
    body = await parse_body(request, CompletionRequest, service.registry)
    served = served_model(service, body.model)
    request.state.record.model = served.name  # a served name: metric labels stay bounded
    generations = to_generation_requests(body, temperature=served.temperature, top_p=served.top_p)
    events = await _start(request, service, served, generations, principal)
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
    async with aclosing(events):
        reply = await unless_disconnected(request, to_text_completion(events, meta))
    return JSONResponse(reply.model_dump(mode="json", exclude_unset=True))


async def _start(
    http: Request,
    service: GenerationService,
    served: ServedModel,
    requests: list[GenerationRequest],
    caller: Principal,
) -> AsyncGenerator[ChoiceEvent, None]:
    """The events of every prompt's choices, the first already produced: a refusal of
    the first prompt is still a 4xx."""
    if len(requests) == 1:
        return await start_generation(http, service, served, requests[0], caller)
    events = _one_prompt_after_another(http, service, served, requests, caller)
    try:
        first = await unless_disconnected(http, anext(events))
    except BaseException:
        await events.aclose()
        raise
    return prepend(first, events)


async def _one_prompt_after_another(
    http: Request,
    service: GenerationService,
    served: ServedModel,
    requests: list[GenerationRequest],
    caller: Principal,
) -> AsyncGenerator[ChoiceEvent, None]:
    """Each prompt's choices in turn, renumbered: prompt p's choice i is p * n + i."""
    record: RequestRecord = http.state.record
    for p, request in enumerate(requests):
        own = RequestRecord(record.request_id, record.method, record.path)
        record.on_end(own.end)  # its slots are freed with the request at the latest
        try:
            events = await service.start(served, request, caller, own)
            async with aclosing(events):
                async for item in events:
                    yield ChoiceEvent(p * request.candidates + item.index, item.event)
        except OpenVertexError as exc:  # a refusal after the first prompt ends the stream
            own.stream_error = own.stream_error or exc.code
            raise
        finally:
            own.end()  # frees its slots now, for the next prompt
            _add(record, own)


def _add(record: RequestRecord, part: RequestRecord) -> None:
    """One prompt's tokens and outcome, on the request's record."""
    record.prompt_tokens += part.prompt_tokens
    record.completion_tokens += part.completion_tokens
    record.reasoning_tokens += part.reasoning_tokens
    record.first_token = record.first_token or part.first_token
    record.stream_error = record.stream_error or part.stream_error
