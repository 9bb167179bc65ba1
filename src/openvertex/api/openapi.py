"""What `/openapi.json` says about the routes that read their requests by hand.

The chat and token routes parse their bodies themselves (any Content-Type, our own
error envelope) and the models routes return plain dicts, so FastAPI cannot infer
their shapes. The route decorators take the keyword arguments below, and
`install` completes the document: the chat request's JSON Schema, the served
model names (any other gets a 404), the Vertex path parameters, and no 422
(validation failures are 400s here). tests/test_fuzz.py runs schemathesis against
this document, so it must stay true.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Literal

from fastapi import FastAPI
from openai.types import Completion, CreateEmbeddingResponse, ImagesResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema, models_json_schema

from openvertex.api.openai.completion_request import CompletionRequest
from openvertex.api.openai.request import (
    ChatCompletionRequest,
    EmbeddingsBody,
    ImageGenerationRequest,
)

REF_TEMPLATE = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    code: int = Field(description="The HTTP status")
    message: str
    status: str = Field(description="Google's canonical status, e.g. INVALID_ARGUMENT")
    type: str = Field(description="OpenAI's error type, e.g. invalid_request_error")
    param: str | None = Field(description="The request field at fault, if one is")
    request_id: str | SkipJsonSchema[None] = Field(
        default=None, description="The response's x-request-id, to find it in the access log"
    )
    details: list[dict[str, Any]] | SkipJsonSchema[None] = Field(
        default=None, description="google.rpc.ErrorInfo entries, e.g. ACCESS_TOKEN_EXPIRED"
    )


class ErrorEnvelope(BaseModel):
    """Every API failure: read by Google-style clients and the `openai` SDK alike."""

    error: ErrorBody


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


class TokenForm(BaseModel):
    """OAuth2's JWT-bearer grant (RFC 7523), as google-auth sends it."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion: str = Field(description="A JWT signed with a service-account key (RS256)")


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class OAuthError(BaseModel):
    """OAuth2's error shape (RFC 6749 §5.2), not the API's envelope: google-auth reads it."""

    error: Literal["unsupported_grant_type", "invalid_request", "invalid_grant"]
    error_description: str


_ERROR_TEXT = {
    400: "The request is invalid",
    401: "No valid credentials",
    403: "The credentials may not use this project",
    404: "No such model or endpoint",
    413: "The request body is over the size limit",
    429: "Too many requests; retry after the given delay",
    502: "An upstream server failed or answered what cannot be passed on",
    503: "The model is not loaded yet, or the server is shutting down",
    504: "An upstream server did not answer in time",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
_NO_STORE = {"Cache-Control": {"required": True, "schema": {"type": "string"}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error envelope under each status, with Retry-After on a 429."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorEnvelope, "description": _ERROR_TEXT[code]}
        if code == 429:
            out[code]["headers"] = _RETRY_AFTER
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _sse_event(chunk: str) -> dict[str, Any]:
    """One server-sent event, as Open API before 3.2 reads `schema` for text/event-stream."""
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "anyOf": [
                    {"const": "[DONE]", "description": "The end of the stream"},
                    {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {
                            "anyOf": [_ref(chunk), _ref("ErrorEnvelope")],
                            "description": "A chunk; a failure after the stream began: the error",
                        },
                    },
                ]
            }
        },
    }


CHAT_DOCS: dict[str, Any] = {
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("ChatCompletionRequest")}},
        }
    },
    "responses": {
        200: {
            "description": "The completion; with `stream: true`, server-sent events instead",
            "content": {
                "application/json": {"schema": _ref("ChatCompletion")},
                "text/event-stream": {"schema": _sse_event("ChatCompletionChunk")},
            },
            "headers": {
                "x-openvertex-thinking-budget": {
                    "description": "The thinking budget the model was given, when one was set",
                    "schema": {"type": "integer"},
                }
            },
        },
        **_errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
    },
}

COMPLETIONS_DOCS: dict[str, Any] = {
    "summary": "Continue a prompt as it is (the legacy Completions API; embedded models only)",
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("CompletionRequest")}},
        }
    },
    "responses": {
        200: {
            "description": "The completion; with `stream: true`, server-sent events of its "
            "pieces instead (`finish_reason` null until a choice ends)",
            "content": {
                "application/json": {"schema": _ref("Completion")},
                "text/event-stream": {"schema": _sse_event("CompletionChunk")},
            },
        },
        **_errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
    },
}

IMAGES_DOCS: dict[str, Any] = {
    "summary": "Generate images (a model that draws; others answer 400 FAILED_PRECONDITION)",
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("ImageGenerationRequest")}},
        }
    },
    "responses": {
        200: {
            "description": "The images, base64 (or as data URLs)",
            "content": {"application/json": {"schema": _ref("ImagesResponse")}},
        },
        **_errors(400, 401, 403, 404, 413, 429, 502, 503, 504),
    },
}

EMBEDDINGS_DOCS: dict[str, Any] = {
    "summary": "Create embeddings (served by an embedding model; others answer 400)",
    "response_model": None,
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("EmbeddingsBody")}},
        }
    },
    "responses": {
        200: {
            "description": "One vector per input, as floats or base64 float32",
            "content": {"application/json": {"schema": _ref("CreateEmbeddingResponse")}},
        },
        **_errors(400, 401, 403, 404, 413, 429, 503),
    },
}

MODELS_DOCS: dict[str, Any] = {
    "response_model": None,
    "responses": {200: {"model": ModelList}, **_errors(401, 403, 404)},
}

MODEL_DOCS: dict[str, Any] = {
    "response_model": None,
    "responses": {200: {"model": ModelCard}, **_errors(401, 403, 404)},
}

TOKEN_DOCS: dict[str, Any] = {
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _ref("TokenForm")}},
        }
    },
    "responses": {
        200: {"model": AccessToken, "description": "An access token", "headers": _NO_STORE},
        400: {"model": OAuthError, "description": "The grant is refused", "headers": _NO_STORE},
        **_errors(413),
    },
}


@cache
def _own_schemas() -> dict[str, dict[str, Any]]:
    """Components for the shapes FastAPI does not see, refs already pointing there."""
    _, document = models_json_schema(
        [
            (ChatCompletionRequest, "validation"),
            (CompletionRequest, "validation"),
            (ImageGenerationRequest, "validation"),
            (EmbeddingsBody, "validation"),
            (TokenForm, "validation"),
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
    choices = {**completion["properties"]["choices"], "items": _ref("CompletionChunkChoice")}
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


def _complete(document: dict[str, Any], model_names: list[str]) -> None:
    """Add what FastAPI cannot see; idempotent, since FastAPI caches the document."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    schemas = dict(_own_schemas())
    for name in (
        "ChatCompletionRequest",
        "CompletionRequest",
        "ImageGenerationRequest",
        "EmbeddingsBody",
    ):
        request = schemas[name]
        model = {**request["properties"]["model"], "enum": model_names}  # any other is a 404
        schemas[name] = {**request, "properties": {**request["properties"], "model": model}}
    for name, schema in schemas.items():
        if components.get(name, schema) != schema:
            raise RuntimeError(f"two different schemas are named {name} in the OpenAPI document")
        components[name] = schema
    # Validation failures are 400s with the error envelope (api/errors.py), never 422s.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            operation["responses"].pop("422", None)
            parameters = operation.setdefault("parameters", [])
            for parameter in parameters:
                if parameter["name"] == "model_id":  # as for `model`: any other is a 404
                    parameter["schema"] = {**parameter["schema"], "enum": model_names}
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            for name in re.findall(r"{(\w+)}", path):
                if name not in declared:  # `project`, `location`: read by the auth dependency
                    parameters.append(
                        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    )
            if not parameters:
                del operation["parameters"]


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        ids = app.state.context.service.registry.names
        _complete(document, sorted({*ids, *(i.removeprefix("google/") for i in ids)}))
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
