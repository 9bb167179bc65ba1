"""Who is calling, resolved once per request by one dependency on every API route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from openvertex.auth.credentials import Principal, authenticate

NO_AUTH_PROJECT = "default"


async def get_principal(request: Request) -> Principal:
    state = request.app.state
    project = request.path_params.get("project")
    if not state.settings.auth:
        return Principal(project=project or NO_AUTH_PROJECT, subject="anonymous")
    return authenticate(
        state.store,
        authorization=request.headers.get("authorization"),
        api_key=request.headers.get("x-goog-api-key") or request.query_params.get("key"),
        project=project,
        now=state.clock(),
    )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
