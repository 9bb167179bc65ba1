"""Read a JSON request body into a typed model, whatever Content-Type was sent.

curl's `-d` says `application/x-www-form-urlencoded`; llama.cpp's server and
Vertex read the JSON anyway, and so does openvertex. Parsing goes straight from
bytes through pydantic-core, with errors in the same shape as FastAPI's.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from openvertex.api.request_size import SizeLimit
from openvertex.errors import InvalidArgument
from openvertex.serving.registry import ModelRegistry

M = TypeVar("M", bound=BaseModel)


async def parse_body(
    request: Request,
    model: type[M],
    registry: ModelRegistry | None = None,
    *,
    limit: SizeLimit | None = None,
) -> M:
    """`registry`: where the body names its model (the OpenAI wire), a refused body is
    still ledgered under the served model it asked for. `limit`: a body too big for the
    model's context is refused before it is validated."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidArgument("The request needs a JSON body.")
    try:
        if limit is not None:
            limit.check(raw)
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    except InvalidArgument:
        if registry is not None:
            await _record_model(request, raw, registry)
        raise
    if registry is not None:
        await _record_model(request, raw, registry)
    raise RequestValidationError(errors)


class _Named(BaseModel):
    """Only a body's `model`: the rest is skipped as it is read, not built in memory."""

    model: str


async def _record_model(request: Request, raw: bytes, registry: ModelRegistry) -> None:
    try:
        name = (await asyncio.to_thread(_Named.model_validate_json, raw)).model
    except ValidationError:  # not JSON, too deep, or no string `model`
        return
    if (served := registry.find(name)) is not None:
        request.state.record.model = served.name
