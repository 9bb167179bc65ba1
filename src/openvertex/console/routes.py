"""`/console`: the page, and the admin API it calls (left out of the OpenAPI document).

Every admin route needs an admin API key (`openvertex apikeys create --admin`), or runs
open under `--no-auth`, which listens on loopback only. Store calls run on worker threads,
never on the event loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from openvertex.api.context import Context
from openvertex.api.deps import CurrentPrincipal
from openvertex.auth.credentials import Principal, create_api_key
from openvertex.auth.service_accounts import check_id, create_key
from openvertex.catalog import ENTRIES, state
from openvertex.console.usage import summary
from openvertex.errors import InvalidArgument, NotFound, PermissionDenied
from openvertex.store.base import ProjectQuota, Store

STATIC = Path(__file__).parent / "static"
MAX_ROWS = 100_000  # ledger rows read for one usage page
MAX_QUOTA = 2**31 - 1  # PostgreSQL's INTEGER
KEY_ID = re.compile(r"[0-9a-f]{12}|[0-9a-f]{40}")  # an API key's, a service-account key's

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/console/api", include_in_schema=False)


async def require_admin(request: Request, principal: CurrentPrincipal) -> Principal:
    """An admin, calling from this server's own page (or from no page at all)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        # Another site's page in the operator's browser: under --no-auth it needs no key.
        raise PermissionDenied("The console's API answers only the console's own page.")
    if not principal.admin:
        raise PermissionDenied(
            "The console needs an admin API key: `openvertex apikeys create --admin`.",
            reason="IAM_PERMISSION_DENIED",
        )
    return principal


Admin = Annotated[Principal, Depends(require_admin)]


PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    # Its own files only, and never inside another site's frame (no clicks made for it).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}


@router.get("/console")
async def page() -> FileResponse:
    """The whole console is one page; it asks for the admin key itself."""
    return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


@api.get("/session")
async def session(principal: Admin, ctx: Context) -> dict[str, Any]:
    return {
        "auth": ctx.settings.auth,
        "principal": principal.subject,
        "project": principal.project,
        "public_url": ctx.settings.public_url,  # None: the page uses its own origin
    }


@api.get("/usage")
async def usage(
    _: Admin,
    ctx: Context,
    hours: Annotated[float, Query(gt=0, le=24 * 90)] = 24,
) -> dict[str, Any]:
    """The ledger over the last `hours`: totals as `openvertex usage` prints them, a series
    and percentiles from the newest MAX_ROWS rows (`truncated` says when there were more)."""
    until = ctx.clock()
    since = until - hours * 3600

    def read() -> dict[str, Any]:
        totals = ctx.store.usage_totals(None, since)
        records = ctx.store.usage_records(since, MAX_ROWS)
        return {
            "totals": [asdict(t) for t in totals],
            "truncated": len(records) == MAX_ROWS,
            **summary(records, since=since, until=until),
        }

    return await run_in_threadpool(read)


@api.get("/projects")
async def projects(_: Admin, ctx: Context) -> dict[str, Any]:
    """Every project anything names: its keys, API keys, grants and quota."""
    settings = ctx.settings

    def read(store: Store) -> dict[str, Any]:
        keys, api_keys = store.list_keys(), store.list_api_keys()
        grants, quotas = store.list_grants(), {q.project: q for q in store.list_quotas()}
        names = {k.project for k in keys} | {k.project for k in api_keys} | set(quotas)
        names |= {project for project, _ in grants} | set(store.ledger_projects())
        return {
            "defaults": {"rpm": settings.default_rpm, "tpm": settings.default_tpm},
            "projects": [
                {
                    "project": name,
                    "quota": {
                        "rpm": quotas[name].rpm if name in quotas else None,
                        "tpm": quotas[name].tpm if name in quotas else None,
                    },
                    "grants": [email for project, email in grants if project == name],
                    "keys": [_public(asdict(k)) for k in keys if k.project == name],
                    "api_keys": [asdict(k) for k in api_keys if k.project == name],
                }
                for name in sorted(names)
            ],
        }

    return await run_in_threadpool(read, ctx.store)


def _public(key: dict[str, Any]) -> dict[str, Any]:
    key.pop("public_key")
    return key


class NewKey(BaseModel):
    name: str = Field("openvertex", description="The service account, before the @")


class NewGrant(BaseModel):
    email: str = Field(min_length=3, max_length=200, pattern=r"^[\w.+-]+@[\w.-]+$")


class QuotaChange(BaseModel):
    """Requests and tokens per minute; null keeps the server's default, 0 lifts the limit."""

    rpm: int | None = Field(None, ge=0, le=MAX_QUOTA)
    tpm: int | None = Field(None, ge=0, le=MAX_QUOTA)


def _project(name: str) -> str:
    try:
        return check_id("project", name)
    except ValueError as exc:
        raise InvalidArgument(str(exc), param="project") from None


@api.post("/projects/{project}/keys")
async def new_key(project: str, body: NewKey, _: Admin, ctx: Context) -> JSONResponse:
    """A service-account key file, handed over once: only its public half is kept."""
    try:
        key_file = await run_in_threadpool(
            create_key,
            ctx.store,
            project=_project(project),
            name=body.name,
            token_uri=ctx.settings.token_url,
            now=time.time(),
        )
    except ValueError as exc:
        raise InvalidArgument(str(exc), param="name") from None
    return JSONResponse(key_file, headers={"Cache-Control": "no-store"})


@api.post("/projects/{project}/apikeys")
async def new_api_key(project: str, _: Admin, ctx: Context) -> JSONResponse:
    """An API key, shown once: only its hash is kept."""
    secret, record = await run_in_threadpool(
        create_api_key, ctx.store, project=_project(project), now=time.time()
    )
    body = {"key": secret, **asdict(record)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@api.delete("/keys/{key_id}")
async def revoke_key(key_id: str, _: Admin, ctx: Context) -> dict[str, str]:
    return await _revoke(ctx.store.revoke_key, key_id, "service-account key")


@api.delete("/apikeys/{key_id}")
async def revoke_api_key(key_id: str, _: Admin, ctx: Context) -> dict[str, str]:
    return await _revoke(ctx.store.revoke_api_key, key_id, "API key")


async def _revoke(revoke: Callable[[str, float], bool], key_id: str, what: str) -> dict[str, str]:
    """Revoke now; a malformed id never reaches the database (a NUL would be its 500)."""
    if not KEY_ID.fullmatch(key_id) or not await run_in_threadpool(revoke, key_id, time.time()):
        raise NotFound(f"No active {what} {key_id!r}.")
    return {"revoked": key_id}


@api.post("/projects/{project}/grants")
async def grant(project: str, body: NewGrant, _: Admin, ctx: Context) -> dict[str, str]:
    await run_in_threadpool(ctx.store.grant, _project(project), body.email)
    return {"project": project, "email": body.email}


@api.put("/projects/{project}/quota")
async def set_quota(project: str, body: QuotaChange, _: Admin, ctx: Context) -> dict[str, Any]:
    """Applies at once: quotas are read from the store on every request."""
    quota = ProjectQuota(_project(project), body.rpm, body.tpm)
    await run_in_threadpool(ctx.store.set_quota, quota)
    return asdict(quota)


@api.get("/models")
async def models(_: Admin, ctx: Context) -> dict[str, Any]:
    """What serves each name now, and the catalog models not pulled yet."""
    service, data_dir = ctx.service, ctx.settings.data_dir
    served = [
        {
            "name": m.name,
            "slots": m.admission.slots,
            "busy": m.admission.busy,
            "waiting": m.admission.waiting,
            **service.describe(m),
        }
        for m in service.registry
    ]

    def catalog() -> list[dict[str, Any]]:
        return [
            {
                "name": e.name,
                "kind": e.kind,
                "title": e.title,
                "size": e.size,
                "licence": e.licence,
                "speed": e.speed,
                "capabilities": e.capabilities,
                "state": state(e, data_dir),
            }
            for e in ENTRIES
        ]

    return {"served": served, "catalog": await run_in_threadpool(catalog)}
