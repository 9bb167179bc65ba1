"""The handlers that make every failure speak the error envelope (`errors.py`).

It is always an object, never a list: a validation failure becomes one 400 that
names the field at fault, in Google's words where Google has some.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from openvertex.errors import OpenVertexError, ResourceExhausted, body_of, error_body

log = logging.getLogger("openvertex")


def _is_label(item: Any, following: Any) -> bool:
    """Pydantic puts union branch names ("str", "list[...]", a tag) into error locations."""
    return isinstance(item, str) and (
        "[" in item or item in ("str", "int", "float", "bool", "list", "dict") or item == following
    )


def _param(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p != "body"]
    parts = [
        p
        for i, p in enumerate(parts)
        if not _is_label(p, parts[i + 1] if i + 1 < len(parts) else None)
    ]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _most_specific(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One error per field: the one from the union branch that got furthest."""
    best: dict[Any, dict[str, Any]] = {}
    for e in errors:
        key = tuple(e["loc"][:1]) if e["loc"] and e["loc"][0] != "body" else tuple(e["loc"][:2])
        if key not in best or len(e["loc"]) > len(best[key]["loc"]):
            best[key] = e
    return list(best.values())


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"The request body is not valid JSON: {first.get('ctx', {}).get('error', '')}", None
    if first["type"] == "missing" and tuple(first["loc"]) == ("body",):
        return "The request needs a JSON body.", None
    errors = _most_specific(errors)
    shown = []
    for e in errors[:3]:
        where = _param(tuple(e["loc"])) or "body"
        if e["type"] == "extra_forbidden":  # Google's words for a field it does not know
            parent = _param(tuple(e["loc"][:-1])) or "body"
            shown.append(f'Unknown name "{e["loc"][-1]}" at {parent!r}: Cannot find field.')
            continue
        shown.append(f"{where}: {e['msg']}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "Invalid request: " + "; ".join(shown) + more, _param(tuple(errors[0]["loc"])) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenVertexError)
    async def _ours(_: Request, exc: OpenVertexError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.code == 401 else None
        if isinstance(exc, ResourceExhausted):  # the openai SDK's retry waits this long
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(body_of(exc), status_code=exc.code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(list(exc.errors()))
        return JSONResponse(error_body(400, message, param=param), status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not supported on {request.url.path}"
        return JSONResponse(
            error_body(exc.status_code, message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(500, "Internal error."), status_code=500)
