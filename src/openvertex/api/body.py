"""Read a JSON request body into a typed model, whatever Content-Type was sent.

curl's `-d` says `application/x-www-form-urlencoded`; llama.cpp's server and
Vertex read the JSON anyway, and so does openvertex. Parsing goes straight from
bytes through pydantic-core, with errors in the same shape as FastAPI's.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from openvertex.errors import InvalidArgument

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    if not raw.strip():
        raise InvalidArgument("The request needs a JSON body.")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
