"""Who is calling, resolved once per request by one dependency on every API route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from openvertex.api.context import app_context
from openvertex.auth.credentials import Principal, authenticate

NO_AUTH_PROJECT = "default"


async def get_principal(request: Request) -> Principal:
    context = app_context(request)
    project = request.path_params.get("project")
    if not context.settings.auth:
        return Principal(project=project or NO_AUTH_PROJECT, subject="anonymous", admin=True)
    return await run_in_threadpool(  # store lookups: never on the event loop
        authenticate,
        context.store,
        authorization=request.headers.get("authorization"),
        api_key=request.headers.get("x-goog-api-key"),
        url_key=request.query_params.get("key"),
        project=project,
        now=context.clock(),
    )


async def get_billed_caller(request: Request) -> Principal:
    """The caller of a generation: from here on, however the request ends (a 400, a 429,
    the client gone), it leaves one row in its project's ledger."""
    principal = await get_principal(request)
    record = request.state.record
    record.project, record.principal = principal.project, principal.subject
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
BilledCaller = Annotated[Principal, Depends(get_billed_caller)]
