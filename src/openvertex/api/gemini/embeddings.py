"""Vertex's native embedding routes, as google-genai calls them:

    POST …/publishers/{publisher}/models/{model}:predict             text-embedding-*
    POST …/publishers/{publisher}/models/{model}:embedContent        gemini-embedding-*, one
    POST …/publishers/{publisher}/models/{model}:batchEmbedContents  gemini-embedding-*, many

Fields come in camelCase or snake_case (the SDK mixes them). Any served embedding
model answers on all three; each route keeps its own reply shape.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field, model_validator

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.gemini.request import Content, _Wire
from openvertex.api.gemini.routes import publisher_model, publisher_routes
from openvertex.api.generation import unless_disconnected
from openvertex.core.embedding import (
    DEFAULT_TASK,
    TASK_TYPES,
    Embedding,
    EmbeddingInput,
    EmbeddingRequest,
)
from openvertex.errors import InvalidArgument
from openvertex.serving.registry import ServedModel

router = APIRouter(include_in_schema=False)
TaskType = Literal[TASK_TYPES]  # type: ignore[valid-type]  # a Literal of a tuple: pydantic reads it, mypy cannot


class Instance(_Wire):
    content: str
    task_type: TaskType | None = None
    title: str | None = None


class PredictParameters(_Wire):
    output_dimensionality: int | None = Field(default=None, ge=1)
    auto_truncate: bool = True


class PredictRequest(_Wire):
    instances: list[Instance] = Field(min_length=1)
    parameters: PredictParameters = Field(default_factory=PredictParameters)


class EmbedContentConfig(_Wire):
    task_type: TaskType | None = None
    title: str | None = None
    output_dimensionality: int | None = Field(default=None, ge=1)
    auto_truncate: bool = True


class EmbedContentRequest(_Wire):
    """`embedContentConfig` as google-genai sends it; its fields at the top level as the
    Gemini API's own REST form has them."""

    model: str | None = None
    content: Content
    embed_content_config: EmbedContentConfig | None = None
    task_type: TaskType | None = None
    title: str | None = None
    output_dimensionality: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _config(self) -> EmbedContentRequest:
        if self.embed_content_config is None:
            self.embed_content_config = EmbedContentConfig(
                task_type=self.task_type,
                title=self.title,
                output_dimensionality=self.output_dimensionality,
            )
        return self


class BatchEmbedContentsRequest(_Wire):
    requests: list[EmbedContentRequest] = Field(min_length=1)


@publisher_routes(router, "POST", "/{model}:predict")
async def predict(
    request: Request, publisher: str, model: str, principal: BilledCaller, ctx: Context
) -> dict[str, Any]:
    served = publisher_model(ctx, request, publisher, model)  # before the body: Imagen's 400
    body = await parse_body(request, PredictRequest)
    inputs = tuple(
        _input(i.content, i.task_type, i.title, f"instances[{n}]")
        for n, i in enumerate(body.instances)
    )
    dims = body.parameters.output_dimensionality
    auto = body.parameters.auto_truncate
    vectors = await _embed(request, served, model, principal, ctx, inputs, dims, auto)
    return {
        "predictions": [
            {
                "embeddings": {
                    "values": list(v.values),
                    "statistics": {"truncated": v.truncated, "token_count": v.tokens},
                }
            }
            for v in vectors
        ],
        "metadata": {"billableCharacterCount": sum(len(i.content) for i in body.instances)},
    }


@publisher_routes(router, "POST", "/{model}:embedContent")
async def embed_content(
    request: Request, publisher: str, model: str, principal: BilledCaller, ctx: Context
) -> dict[str, Any]:
    served = publisher_model(ctx, request, publisher, model)
    body = await parse_body(request, EmbedContentRequest)
    config = body.embed_content_config or EmbedContentConfig()
    inputs = (_content_input(body, "content"),)
    dims, auto = config.output_dimensionality, config.auto_truncate
    [vector] = await _embed(request, served, model, principal, ctx, inputs, dims, auto)
    return {
        "embedding": {"values": list(vector.values)},
        "truncated": vector.truncated,
        "usageMetadata": _usage([vector]),
    }


@publisher_routes(router, "POST", "/{model}:batchEmbedContents")
async def batch_embed_contents(
    request: Request, publisher: str, model: str, principal: BilledCaller, ctx: Context
) -> dict[str, Any]:
    served = publisher_model(ctx, request, publisher, model)
    body = await parse_body(request, BatchEmbedContentsRequest)
    configs = {_settings(r.embed_content_config) for r in body.requests}
    if len(configs) > 1:
        raise InvalidArgument(
            "Every request of a batch must ask for the same outputDimensionality and autoTruncate.",
            param="requests",
        )
    [(dims, auto)] = configs
    inputs = tuple(_content_input(r, f"requests[{n}].content") for n, r in enumerate(body.requests))
    vectors = await _embed(request, served, model, principal, ctx, inputs, dims, auto)
    return {
        "embeddings": [{"values": list(v.values)} for v in vectors],
        "usageMetadata": _usage(vectors),
    }


async def _embed(
    request: Request,
    served: ServedModel,
    model: str,
    principal: BilledCaller,
    ctx: Context,
    inputs: tuple[EmbeddingInput, ...],
    dimensions: int | None,
    auto_truncate: bool,
) -> list[Embedding]:
    embedding = EmbeddingRequest(
        model=model,
        inputs=inputs,
        dimensions=dimensions,
        auto_truncate=auto_truncate,
        dimensions_param="outputDimensionality",
    )
    work = ctx.service.embed(served, embedding, principal, request.state.record)
    return await unless_disconnected(request, work)


def _input(text: str, task: str | None, title: str | None, where: str) -> EmbeddingInput:
    task = task or DEFAULT_TASK
    if title and task != "RETRIEVAL_DOCUMENT":
        raise InvalidArgument(
            "A title is taken only with task_type RETRIEVAL_DOCUMENT.", param=f"{where}.title"
        )
    return EmbeddingInput(text, task=task, title=title, where=where)


def _content_input(body: EmbedContentRequest, where: str) -> EmbeddingInput:
    if any(part.text is None for part in body.content.parts):
        raise InvalidArgument("This model embeds text parts only.", param=f"{where}.parts")
    text = "\n".join(part.text or "" for part in body.content.parts)
    config = body.embed_content_config or EmbedContentConfig()
    return _input(text, config.task_type, config.title, where)


def _settings(config: EmbedContentConfig | None) -> tuple[int | None, bool]:
    config = config or EmbedContentConfig()
    return config.output_dimensionality, config.auto_truncate


def _usage(vectors: list[Embedding]) -> dict[str, int]:
    tokens = sum(v.tokens for v in vectors)
    return {"promptTokenCount": tokens, "totalTokenCount": tokens}
