"""What `/openapi.json` says about the OpenAI wire's routes: the keyword arguments
their decorators take, and the schemas of the requests they read by hand."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from openai.types import Completion, CreateEmbeddingResponse, ImagesResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from openvertex.api.openai.completion_request import CompletionRequest
from openvertex.api.openai.request import (
    ChatCompletionRequest,
    EmbeddingsBody,
    ImageGenerationRequest,
)
from openvertex.api.openapi import REF_TEMPLATE, errors, ref, sse_event

# The requests whose `model` must be a served name (any other is a 404).
REQUESTS = (
    "ChatCompletionRequest",
    "CompletionRequest",
    "ImageGenerationRequest",
    "EmbeddingsBody",
)


class ModelDetails(BaseModel):
    """What really runs underneath; engines may add fields of their own."""

    model_config = ConfigDict(extra="allow")

    backend: str
    weights: str
    context_window: int
    input_modalities: list[str]
    output_modalities: list[str]
    ready: bool


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    openvertex: ModelDetails


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


CHAT_DOCS: dict[str, Any] = {
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("ChatCompletionRequest")}},
        }
    },
    "responses": {
        200: {
            "description": "The completion; with `stream: true`, server-sent events instead",
            "content": {
                "application/json": {"schema": ref("ChatCompletion")},
                "text/event-stream": {"schema": sse_event("ChatCompletionChunk")},
            },
            "headers": {
                "x-openvertex-thinking-budget": {
                    "description": "The thinking budget the model was given, when one was set",
                    "schema": {"type": "integer"},
                }
            },
        },
        **errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
    },
}

COMPLETIONS_DOCS: dict[str, Any] = {
    "summary": "Continue a prompt as it is (the legacy Completions API; embedded models only)",
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("CompletionRequest")}},
        }
    },
    "responses": {
        200: {
            "description": "The completion; with `stream: true`, server-sent events of its "
            "pieces instead (`finish_reason` null until a choice ends)",
            "content": {
                "application/json": {"schema": ref("Completion")},
                "text/event-stream": {"schema": sse_event("CompletionChunk")},
            },
        },
        **errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
    },
}

IMAGES_DOCS: dict[str, Any] = {
    "summary": "Generate images (a model that draws; others answer 400 FAILED_PRECONDITION)",
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("ImageGenerationRequest")}},
        }
    },
    "responses": {
        200: {
            "description": "The images, base64 (or as data URLs)",
            "content": {"application/json": {"schema": ref("ImagesResponse")}},
        },
        **errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
    },
}

EMBEDDINGS_DOCS: dict[str, Any] = {
    "summary": "Create embeddings (served by an embedding model; others answer 400)",
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("EmbeddingsBody")}},
        }
    },
    "responses": {
        200: {
            "description": "One vector per input, as floats or base64 float32",
            "content": {"application/json": {"schema": ref("CreateEmbeddingResponse")}},
        },
        **errors(400, 401, 403, 404, 413, 429, 503),
    },
}

MODELS_DOCS: dict[str, Any] = {
    "response_model": None,
    "responses": {200: {"model": ModelList}, **errors(401, 403, 404)},
}

MODEL_DOCS: dict[str, Any] = {
    "response_model": None,
    "responses": {200: {"model": ModelCard}, **errors(401, 403, 404)},
}


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Components for the shapes FastAPI does not see, refs already pointing there."""
    _, document = models_json_schema(
        [
            (ChatCompletionRequest, "validation"),
            (CompletionRequest, "validation"),
            (ImageGenerationRequest, "validation"),
            (EmbeddingsBody, "validation"),
            (CreateEmbeddingResponse, "serialization"),
            (ChatCompletion, "serialization"),
            (ChatCompletionChunk, "serialization"),
            (Completion, "serialization"),
            (ImagesResponse, "serialization"),
        ],
        ref_template=REF_TEMPLATE,
    )
    schemas: dict[str, dict[str, Any]] = document["$defs"]
    # A streamed legacy completion: each choice's finish_reason is null until its last chunk.
    choice = schemas["CompletionChoice"]
    finish = {"anyOf": [choice["properties"]["finish_reason"], {"type": "null"}]}
    schemas["CompletionChunkChoice"] = {
        **choice,
        "title": "CompletionChunkChoice",
        "properties": {**choice["properties"], "finish_reason": finish},
    }
    completion = schemas["Completion"]
    choices = {**completion["properties"]["choices"], "items": ref("CompletionChunkChoice")}
    schemas["CompletionChunk"] = {
        **completion,
        "title": "CompletionChunk",
        "properties": {**completion["properties"], "choices": choices},
    }
    # `encoding_format: "base64"` answers each vector as a base64 string of float32s.
    embedding = schemas["Embedding"]
    vector = {"anyOf": [embedding["properties"]["embedding"], {"type": "string"}]}
    schemas["Embedding"] = {
        **embedding,
        "properties": {**embedding["properties"], "embedding": {**vector, "title": "Embedding"}},
    }
    # ChatMessage's own validator: only an assistant message may leave its content out.
    schemas["ChatMessage"] = {
        **schemas["ChatMessage"],
        "if": {"properties": {"role": {"const": "assistant"}}},
        "else": {"required": ["content"], "properties": {"content": {"not": {"type": "null"}}}},
    }
    return schemas
