"""Streamed replies: server-sent events (`data:` per chunk), or one JSON array.

OpenAI's streams end with `data: [DONE]`; Gemini's just end. A failure after
the stream has started cannot change the HTTP status any more, so it goes out
as one more chunk, `{"error": {...}}`, which both SDKs raise. However the
stream ends (the client gone while a write was blocked included), the chunks
are closed before the response returns, so generation stops at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from openvertex.errors import OpenVertexError, body_of, error_body

log = logging.getLogger("openvertex")

Chunk = BaseModel | dict[str, Any]


def _json(chunk: Chunk) -> str:
    if isinstance(chunk, BaseModel):
        return chunk.model_dump_json(exclude_unset=True)
    return to_json(chunk).decode()


class _Failed(Exception):
    """Carries the error object a stream ends with."""


async def _payloads(chunks: AsyncGenerator[Chunk, None]) -> AsyncGenerator[str, None]:
    """Each chunk as JSON text; a failure raises `_Failed` with the error object's text."""
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                yield _json(chunk)
    except OpenVertexError as exc:
        raise _Failed(json.dumps(body_of(exc))) from None
    except Exception:
        log.exception("stream failed")
        raise _Failed(json.dumps(error_body(500, "Internal error."))) from None


async def _events(chunks: AsyncGenerator[Chunk, None], done: bool) -> AsyncIterator[str]:
    try:
        async with aclosing(_payloads(chunks)) as payloads:
            async for payload in payloads:
                yield f"data: {payload}\n\n"
    except _Failed as failure:
        yield f"data: {failure}\n\n"
        return
    if done:
        yield "data: [DONE]\n\n"


async def _array(chunks: AsyncGenerator[Chunk, None]) -> AsyncIterator[str]:
    separator = "["
    try:
        async with aclosing(_payloads(chunks)) as payloads:
            async for payload in payloads:
                yield f"{separator}{payload}"
                separator = ",\r\n"
    except _Failed as failure:
        yield f"{separator}{failure}"
        separator = ","
    yield "[]" if separator == "[" else "]"


class _ClosingStream(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with aclosing(self.body_iterator):  # type: ignore[type-var]  # starlette types it as any iterable; ours are generators
            await super().__call__(scope, receive, send)


_NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_response(
    chunks: AsyncGenerator[Chunk, None], headers: dict[str, str] | None = None, *, done: bool = True
) -> StreamingResponse:
    """Server-sent events; `done`: end with `data: [DONE]` (OpenAI's way)."""
    headers = {**_NO_BUFFERING, **(headers or {})}
    return _ClosingStream(_events(chunks, done), media_type="text/event-stream", headers=headers)


def json_array_response(
    chunks: AsyncGenerator[Chunk, None], headers: dict[str, str] | None = None
) -> StreamingResponse:
    """The chunks as one JSON array, written as they come (Gemini without `alt=sse`)."""
    headers = {**_NO_BUFFERING, **(headers or {})}
    return _ClosingStream(_array(chunks), media_type="application/json", headers=headers)
