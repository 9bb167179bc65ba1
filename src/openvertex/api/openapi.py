"""What `/openapi.json` says about the routes that read their requests by hand.

The chat and token routes parse their bodies themselves (any Content-Type, our own
error envelope) and the models routes return plain dicts, so FastAPI cannot infer
their shapes. Each route's docs live beside it (`api/openai/docs.py`, `api/token.py`),
built from the pieces here, and `install` completes the document: the request
schemas those give, the served model names (any other gets a 404), the Vertex path
parameters, and no 422 (validation failures are 400s here). tests/test_fuzz.py runs
schemathesis against this document, so it must stay true.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

REF_TEMPLATE = "#/components/schemas/{model}"
Schemas = Sequence[Callable[[], dict[str, dict[str, Any]]]]  # components, by name


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
NO_STORE_DOCS = {"Cache-Control": {"required": True, "schema": {"type": "string"}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error envelope under each status, with Retry-After on a 429."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorEnvelope, "description": _ERROR_TEXT[code]}
        if code == 429:
            out[code]["headers"] = _RETRY_AFTER
    return out


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def sse_event(chunk: str) -> dict[str, Any]:
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
                            "anyOf": [ref(chunk), ref("ErrorEnvelope")],
                            "description": "A chunk; a failure after the stream began: the error",
                        },
                    },
                ]
            }
        },
    }


def _complete(
    document: dict[str, Any], model_names: list[str], own: Schemas, requests: Sequence[str]
) -> None:
    """Add what FastAPI cannot see; idempotent, since FastAPI caches the document."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    schemas: dict[str, dict[str, Any]] = {}
    for part in own:
        schemas |= part()
    for name in requests:
        request = schemas[name]
        model = {**request["properties"]["model"], "enum": model_names}  # any other is a 404
        schemas[name] = {**request, "properties": {**request["properties"], "model": model}}
    for name, schema in schemas.items():
        if components.get(name, schema) != schema:
            raise RuntimeError(f"two different schemas are named {name} in the OpenAPI document")
        components[name] = schema
    # Validation failures are 400s with the error envelope (errors.py), never 422s.
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


def install(app: FastAPI, own: Schemas, requests: Sequence[str]) -> None:
    """Make `app.openapi()` return the completed document: the components each of `own`
    gives, and the served model names as the only `model` of each of `requests`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        ids = app.state.context.service.registry.names
        names = sorted({*ids, *(i.removeprefix("google/") for i in ids)})
        _complete(document, names, own, requests)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
