"""Vertex's native routes for publisher models, as google-genai calls them.

Under `/v1` and `/v1beta1` (the SDK's default), with a project and location
(`Authorization: Bearer`), or in express mode without them (an API key in
`x-goog-api-key` or `?key=`):

    POST …/publishers/{publisher}/models/{model}:generateContent
    POST …/publishers/{publisher}/models/{model}:streamGenerateContent[?alt=sse]
    POST …/publishers/{publisher}/models/{model}:countTokens
    POST …/publishers/{publisher}/models/{model}:computeTokens
    GET  …/publishers/{publisher}/models[/{model}]
"""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from openvertex.api.body import parse_body
from openvertex.api.context import AppContext, Context
from openvertex.api.deps import BilledCaller, CurrentPrincipal
from openvertex.api.gemini.caches import find_cache, with_cache
from openvertex.api.gemini.reply import ReplyMeta, to_chunks, to_response
from openvertex.api.gemini.request import (
    ComputeTokensRequest,
    CountTokensRequest,
    GenerateContentRequest,
    to_generation_request,
)
from openvertex.api.generation import (
    budget_headers,
    read_request,
    served_model,
    start_generation,
    whole_reply,
)
from openvertex.api.request_size import SizeLimit, gemini_size, served_context
from openvertex.api.sse import json_array_response, sse_response
from openvertex.core.request import GenerationRequest
from openvertex.serving import gemini_models
from openvertex.serving.registry import ServedModel

PREFIXES = [
    f"/{version}{scope}"
    for version in ("v1", "v1beta1")
    for scope in ("/projects/{project}/locations/{location}", "")
]
MODELS = "/publishers/{publisher}/models"

router = APIRouter(include_in_schema=False)


def publisher_routes(
    router: APIRouter, method: str, suffix: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The same handler under each version, with and without a project."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        for prefix in PREFIXES:
            router.add_api_route(prefix + MODELS + suffix, handler, methods=[method])
        return handler

    return register


def _routes(method: str, suffix: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return publisher_routes(router, method, suffix)


def model_name(publisher: str, model: str) -> str:
    """The name a URL asks for: Google's models by their own id."""
    return model if publisher == "google" else f"{publisher}/{model}"


def publisher_model(ctx: AppContext, request: Request, publisher: str, model: str) -> ServedModel:
    """The model a URL names (`google/x` is served as `x` too), or Vertex's 404."""
    params = request.path_params
    scope = (
        f"projects/{params['project']}/locations/{params['location']}/"
        if "project" in params
        else ""
    )
    return served_model(
        request,
        ctx.service,
        model_name(publisher, model),
        missing=f"Publisher Model `{scope}publishers/{publisher}/models/{model}` was not found "
        "or your project does not have access to it.",
    )


@_routes("POST", "/{model}:generateContent")
async def generate_content(
    request: Request, publisher: str, model: str, principal: BilledCaller, ctx: Context
) -> Any:
    return await _generate(request, publisher, model, principal, ctx, stream=False)


@_routes("POST", "/{model}:streamGenerateContent")
async def stream_generate_content(
    request: Request, publisher: str, model: str, principal: BilledCaller, ctx: Context
) -> Any:
    return await _generate(request, publisher, model, principal, ctx, stream=True)


async def _generate(
    request: Request,
    publisher: str,
    model: str,
    principal: BilledCaller,
    ctx: AppContext,
    *,
    stream: bool,
) -> Any:
    served = publisher_model(ctx, request, publisher, model)
    service = ctx.service
    service.check_room(served)  # a full server refuses before reading the body
    limit = SizeLimit(gemini_size, served_context(served), "contents")
    body = await parse_body(request, GenerateContentRequest, limit=limit)
    name = model_name(publisher, model)
    parse: Callable[[], GenerationRequest] = functools.partial(
        to_generation_request, body, name, stream=stream, signatures=ctx.signatures
    )
    if body.cached_content is not None:
        parse = with_cache(parse, await find_cache(ctx, principal, body.cached_content))
    generation = await read_request(request, service, served, parse)
    events = await start_generation(request, service, served, generation, principal)
    meta = ReplyMeta(
        response_id=secrets.token_urlsafe(16),
        create_time=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        model_version=gemini_models.version(name),
        candidates=generation.candidates,
        include_thoughts=generation.thinking.include_thoughts,
        sign=ctx.signatures.signer(name),
    )
    headers = budget_headers(generation)
    if stream:
        chunks = to_chunks(events, meta)
        if request.query_params.get("alt") == "sse":
            return sse_response(chunks, headers=headers, done=False)
        return json_array_response(chunks, headers=headers)
    return await whole_reply(request, events, functools.partial(to_response, meta=meta), headers)


@_routes("POST", "/{model}:countTokens")
async def count_tokens(
    request: Request, publisher: str, model: str, principal: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    served = publisher_model(ctx, request, publisher, model)
    limit = SizeLimit(gemini_size, served_context(served), "contents")
    body = await parse_body(request, CountTokensRequest, limit=limit)
    parse: Callable[[], GenerationRequest] = functools.partial(
        to_generation_request, body, model_name(publisher, model), signatures=ctx.signatures
    )
    if body.cached_content is not None:
        parse = with_cache(parse, await find_cache(ctx, principal, body.cached_content))
    generation = await read_request(request, ctx.service, served, parse)
    total = await ctx.service.count_tokens(served, generation)
    return {
        "totalTokens": total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
    }


@_routes("POST", "/{model}:computeTokens")
async def compute_tokens(
    request: Request, publisher: str, model: str, _: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    """Each content's text as the model's tokenizer cuts it (no chat template around it)."""
    served = publisher_model(ctx, request, publisher, model)
    engine = ctx.service.require_generator(served, model)
    body = await parse_body(request, ComputeTokensRequest)
    info = []
    for content in body.contents:
        text = "".join(part.text for part in content.parts if part.text is not None)
        tokens = await engine.tokenize(text)
        info.append(
            {
                "tokens": [base64.b64encode(t.piece).decode() for t in tokens],
                "tokenIds": [str(t.id) for t in tokens],
                "role": content.role or "user",
            }
        )
    return {"tokensInfo": info}


@_routes("GET", "")
async def list_models(publisher: str, _: CurrentPrincipal, ctx: Context) -> dict[str, Any]:
    models = [m for m in ctx.service.registry if _publisher(m.name) == publisher]
    return {"publisherModels": [_card(ctx, m) for m in models]}


@_routes("GET", "/{model}")
async def get_model(
    request: Request, publisher: str, model: str, _: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    return _card(ctx, publisher_model(ctx, request, publisher, model))


def _publisher(name: str) -> str:
    publisher, slash, _ = name.partition("/")
    return publisher if slash else "google"


def _card(ctx: AppContext, served: ServedModel) -> dict[str, Any]:
    """A publisher model, with what really runs underneath it."""
    details = ctx.service.describe(served)
    model = served.name.partition("/")[2] if "/" in served.name else served.name
    return {
        "name": f"publishers/{_publisher(served.name)}/models/{model}",
        "versionId": "openvertex",
        "description": f"Served by openvertex: {details['weights']} on {details['backend']}.",
        "openvertex": details,
    }
