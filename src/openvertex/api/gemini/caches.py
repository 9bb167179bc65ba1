"""Vertex's context caches (`cachedContents`), as google-genai's `client.caches` calls them.

    POST   /{v}/projects/{p}/locations/{l}/cachedContents
    GET    /{v}/projects/{p}/locations/{l}/cachedContents[?pageSize=&pageToken=]
    GET    /{v}/projects/{p}/locations/{l}/cachedContents/{id}
    PATCH  /{v}/projects/{p}/locations/{l}/cachedContents/{id}   (ttl or expireTime only)
    DELETE /{v}/projects/{p}/locations/{l}/cachedContents/{id}

A cache is the head of a prompt (contents, system instruction, tools) kept for a
project until it expires; a request names it in `cachedContent`, and its own
contents follow the cache's. Another project's cache is answered as a missing one.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from openvertex.api.body import parse_body
from openvertex.api.context import AppContext, Context
from openvertex.api.deps import CurrentPrincipal
from openvertex.api.gemini.request import (
    Content,
    CountTokensRequest,
    GenerateContentRequest,
    ToolConfig,
    ToolIn,
    _Wire,
    to_generation_request,
)
from openvertex.api.generation import served_model
from openvertex.auth.credentials import Principal
from openvertex.core.request import GenerationRequest
from openvertex.errors import InvalidArgument, NotFound
from openvertex.serving.registry import canonical
from openvertex.store.base import CachedContent

PREFIXES = [
    f"/{version}/projects/{{project}}/locations/{{location}}" for version in ("v1", "v1beta1")
]
DEFAULT_TTL_S = 3600.0
MAX_PAGE = 1000
_MODEL = re.compile(
    r"^(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/([^/]+)/)?(?:models/)?([^/]+)$"
)
_DURATION = re.compile(r"^(\d+(?:\.\d{1,9})?)s$")

router = APIRouter(include_in_schema=False)


class CreateCachedContent(_Wire):
    model: str
    contents: list[Content] | None = None
    system_instruction: Content | None = None
    tools: list[ToolIn] | None = Field(default=None, max_length=128)
    tool_config: ToolConfig | None = None
    display_name: str | None = Field(default=None, max_length=128)
    ttl: str | None = None
    expire_time: datetime | None = None
    kms_key_name: str | None = None


class UpdateCachedContent(_Wire):
    ttl: str | None = None
    expire_time: datetime | None = None
    # The SDK may send the resource back whole; only the expiry changes.
    name: str | None = None
    model: str | None = None
    display_name: str | None = None


def _routes(method: str, suffix: str) -> Any:
    def register(handler: Any) -> Any:
        for prefix in PREFIXES:
            router.add_api_route(f"{prefix}/cachedContents{suffix}", handler, methods=[method])
        return handler

    return register


@_routes("POST", "")
async def create_cache(
    request: Request, project: str, location: str, principal: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    body = await parse_body(request, CreateCachedContent)
    name = _model_name(body.model)
    served = served_model(request, ctx.service, name)
    if not body.contents:
        raise InvalidArgument("A cached content needs contents.", param="contents")
    head = CountTokensRequest(
        contents=body.contents, system_instruction=body.system_instruction, tools=body.tools
    )
    generation = await run_in_threadpool(to_generation_request, head, name)
    tokens = await ctx.service.count_tokens(served, generation)
    least = ctx.settings.cache_min_tokens
    context = served.engine.capabilities.context_window
    if tokens < least:
        raise InvalidArgument(
            f"The cached content is of {tokens} tokens. The minimum token count to start "
            f"caching is {least}.",
            param="contents",
        )
    if context and tokens > context:
        raise InvalidArgument(
            f"The cached content is of {tokens} tokens, more than the {context} of model {name!r}.",
            param="contents",
        )
    now = ctx.clock()
    cache = CachedContent(
        cache_id=str(secrets.randbelow(10**19)),
        project=principal.project,
        location=location,
        model=f"publishers/google/models/{canonical(name)}",
        display_name=body.display_name or "",
        body=json.dumps(_head(body)),
        tokens=tokens,
        created_at=now,
        updated_at=now,
        expires_at=_expiry(body.ttl, body.expire_time, now),
    )
    await run_in_threadpool(ctx.store.add_cache, cache)
    return _resource(cache)


@_routes("GET", "")
async def list_caches(
    request: Request, project: str, location: str, principal: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    try:
        size = min(int(request.query_params.get("pageSize") or 100), MAX_PAGE)
    except ValueError:
        raise InvalidArgument("pageSize must be a number.", param="pageSize") from None
    size = size if size > 0 else 100
    after = request.query_params.get("pageToken") or None
    caches = await run_in_threadpool(
        ctx.store.list_caches, principal.project, ctx.clock(), size + 1, after
    )
    out: dict[str, Any] = {"cachedContents": [_resource(c) for c in caches[:size]]}
    if len(caches) > size:
        out["nextPageToken"] = caches[size - 1].cache_id
    return out


@_routes("GET", "/{cache_id}")
async def get_cache(
    project: str, location: str, cache_id: str, principal: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    return _resource(await find_cache(ctx, principal, cache_id))


@_routes("PATCH", "/{cache_id}")
async def update_cache(
    request: Request,
    project: str,
    location: str,
    cache_id: str,
    principal: CurrentPrincipal,
    ctx: Context,
) -> dict[str, Any]:
    body = await parse_body(request, UpdateCachedContent)
    if body.ttl is None and body.expire_time is None:
        raise InvalidArgument("Only ttl or expireTime can be updated.", param="updateMask")
    now = ctx.clock()
    expires_at = _expiry(body.ttl, body.expire_time, now)
    updated = await run_in_threadpool(
        ctx.store.set_cache_expiry, principal.project, cache_id, expires_at, now
    )
    if updated is None:
        raise _missing(cache_id)
    return _resource(updated)


@_routes("DELETE", "/{cache_id}")
async def delete_cache(
    project: str, location: str, cache_id: str, principal: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    if not await run_in_threadpool(
        ctx.store.delete_cache, principal.project, cache_id, ctx.clock()
    ):
        raise _missing(cache_id)
    return {}


async def find_cache(ctx: AppContext, principal: Principal, name: str) -> CachedContent:
    """The caller's project's live cache of that name (or bare id), or Vertex's 404."""
    cache_id = name.rstrip("/").rpartition("/")[2]
    cache = await run_in_threadpool(ctx.store.get_cache, principal.project, cache_id, ctx.clock())
    if cache is None:
        raise _missing(cache_id)
    return cache


def with_cache(
    parse: Callable[[], GenerationRequest], cache: CachedContent
) -> Callable[[], GenerationRequest]:
    """A wire's parse, then the cache's head before its turns (off the loop, as parsing is)."""
    return lambda: prepend_cache(parse(), cache)


def prepend_cache(request: GenerationRequest, cache: CachedContent) -> GenerationRequest:
    """The request as the model reads it: the cache's head, then its own turns (either
    wire; Vertex's refusals when it names another model or repeats what the cache holds)."""
    if cache.model.rpartition("/")[2] != canonical(request.model):
        raise InvalidArgument(
            f"Model used by GenerateContent request (models/{canonical(request.model)}) and "
            f"CachedContent ({cache.model}) has to be the same!",
            param="cachedContent",
        )
    if request.tools is not None or any(m.role == "system" for m in request.messages):
        raise InvalidArgument(
            "Tool config, tools and system instruction should not be set in the request "
            "when using cached content.",
            param="cachedContent",
        )
    cached = GenerateContentRequest.model_validate_json(cache.body)
    head = to_generation_request(cached, request.model)
    return dataclasses.replace(
        request, messages=(*head.messages, *request.messages), tools=head.tools
    )


def _head(body: CreateCachedContent) -> dict[str, Any]:
    fields = ("contents", "system_instruction", "tools", "tool_config")
    return body.model_dump(mode="json", include=set(fields), exclude_none=True, by_alias=True)


def _missing(cache_id: str) -> NotFound:
    return NotFound(f"CachedContent not found (or permission denied): {cache_id}.")


def _model_name(model: str) -> str:
    match = _MODEL.match(model.strip())
    if match is None:
        raise InvalidArgument(f"{model!r} is not a model name.", param="model")
    publisher, name = match[1], match[2]
    return name if publisher in (None, "google") else f"{publisher}/{name}"


def _expiry(ttl: str | None, expire_time: datetime | None, now: float) -> float:
    if ttl is not None and expire_time is not None:
        raise InvalidArgument("Give ttl or expireTime, not both.", param="ttl")
    if expire_time is not None:
        when = expire_time if expire_time.tzinfo else expire_time.replace(tzinfo=UTC)
        if when.timestamp() <= now:
            raise InvalidArgument("expireTime must be in the future.", param="expireTime")
        return when.timestamp()
    if ttl is None:
        return now + DEFAULT_TTL_S
    match = _DURATION.match(ttl.strip())
    if match is None or float(match[1]) <= 0:
        raise InvalidArgument(f'ttl {ttl!r} is not a duration such as "3600s".', param="ttl")
    return now + float(match[1])


def _time(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def _resource(cache: CachedContent) -> dict[str, Any]:
    scope = f"projects/{cache.project}/locations/{cache.location}"
    return {
        "name": f"{scope}/cachedContents/{cache.cache_id}",
        "model": f"{scope}/{cache.model}",
        "displayName": cache.display_name,
        "createTime": _time(cache.created_at),
        "updateTime": _time(cache.updated_at),
        "expireTime": _time(cache.expires_at),
        "usageMetadata": {"totalTokenCount": cache.tokens},
    }
