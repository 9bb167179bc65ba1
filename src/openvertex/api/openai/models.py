"""`GET .../models`: what this server answers to, and honestly what runs underneath.

The real Vertex endpoint has no model listing; clients ask for one, so openvertex
serves OpenAI's shape under both prefixes, with an `openvertex` field that names
the engine, the weights and the modalities the model really accepts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from openvertex.api.context import AppContext, Context
from openvertex.api.deps import CurrentPrincipal
from openvertex.api.generation import served_model
from openvertex.api.openai.docs import MODEL_DOCS, MODELS_DOCS
from openvertex.api.openai.paths import route
from openvertex.serving.registry import ServedModel

router = APIRouter()


def _card(ctx: AppContext, served: ServedModel) -> dict[str, Any]:
    return {
        "id": served.name,
        "object": "model",
        "created": ctx.started,
        "owned_by": "openvertex",
        "openvertex": ctx.service.describe(served),
    }


@route(router, "GET", "/models", **MODELS_DOCS)
async def list_models(_: CurrentPrincipal, ctx: Context) -> dict[str, Any]:
    return {"object": "list", "data": [_card(ctx, m) for m in ctx.service.registry]}


@route(router, "GET", "/models/{model_id:path}", **MODEL_DOCS)
async def get_model(
    request: Request, model_id: str, _: CurrentPrincipal, ctx: Context
) -> dict[str, Any]:
    return _card(ctx, served_model(request, ctx.service, model_id))
