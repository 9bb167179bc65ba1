"""`GET .../models`: what this server answers to, and honestly what runs underneath.

The real Vertex endpoint has no model listing; clients ask for one, so openvertex
serves OpenAI's shape under both prefixes, with an `openvertex` field that names
the engine, the weights and the modalities the model really accepts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from openvertex.api.chat import VERTEX_PREFIX
from openvertex.api.deps import CurrentPrincipal
from openvertex.api.openapi import MODEL_DOCS, MODELS_DOCS

router = APIRouter()


def _card(request: Request, model_id: str) -> dict[str, Any]:
    engine = request.app.state.registry.resolve(model_id)
    info = engine.info
    inputs = list(info.input_modalities)
    media = request.app.state.media
    extra = {}
    if media is not None and "image" not in inputs:
        inputs += ["image", "audio"]
        extra["media_input"] = media.modalities  # how a text model gets them: honestly
    return {
        "id": model_id,
        "object": "model",
        "created": request.app.state.started,
        "owned_by": "openvertex",
        "openvertex": {
            "backend": info.backend,
            "weights": info.model,
            "context_window": info.context_window,
            "input_modalities": inputs,
            "ready": engine.ready,
            **info.details,
            **extra,
        },
    }


@router.get("/v1/models", **MODELS_DOCS)
@router.get(VERTEX_PREFIX + "/models", **MODELS_DOCS)
async def list_models(request: Request, _: CurrentPrincipal) -> dict[str, Any]:
    return {"object": "list", "data": [_card(request, i) for i in request.app.state.registry.ids]}


@router.get("/v1/models/{model_id:path}", **MODEL_DOCS)
@router.get(VERTEX_PREFIX + "/models/{model_id:path}", **MODEL_DOCS)
async def get_model(model_id: str, request: Request, _: CurrentPrincipal) -> dict[str, Any]:
    return _card(request, request.app.state.registry.find_id(model_id))
