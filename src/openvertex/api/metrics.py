"""`GET /metrics`: Prometheus' text format, for a scraper on the operator's network.

Like vLLM's and llama.cpp's, it is not behind auth: it holds counts and token
totals, never contents or credentials, and names projects only when the operator
asks for it (`--metrics-detail`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from openvertex.api.context import Context

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(ctx: Context) -> Response:
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
