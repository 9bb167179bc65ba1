"""Liveness and readiness, for process managers and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from openvertex.api.context import Context
from openvertex.errors import error_body

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(ctx: Context) -> JSONResponse:
    service = ctx.service
    if service.drain.started:  # load balancers stop sending work here
        return JSONResponse(error_body(503, "The server is shutting down."), status_code=503)
    registry = service.registry
    if registry.residency.preloaded and all(engine.ready for engine, _ in registry.engines):
        return JSONResponse({"status": "ready"})
    return JSONResponse(error_body(503, "The model is not loaded."), status_code=503)
