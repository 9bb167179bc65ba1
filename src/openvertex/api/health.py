"""Liveness and readiness, for process managers and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openvertex.api.errors import error_body

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    if request.app.state.drain.started:  # load balancers stop sending work here
        return JSONResponse(error_body(503, "The server is shutting down."), status_code=503)
    if request.app.state.engine.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse(error_body(503, "The model is not loaded."), status_code=503)
