"""Server-sent events: one `data:` line per chunk, `[DONE]` at the end.

A failure after the stream has started cannot change the HTTP status any more,
so it goes out as `data: {"error": {...}}`, which the `openai` SDK raises.
However the stream ends (the client gone while a write was blocked included),
the chunks are closed before the response returns, so generation stops at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing

from pydantic import BaseModel
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from openvertex.api.errors import body_of, error_body
from openvertex.errors import OpenVertexError

log = logging.getLogger("openvertex")


async def _events(chunks: AsyncIterator[BaseModel]) -> AsyncIterator[str]:
    try:
        async with aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                yield f"data: {chunk.model_dump_json(exclude_unset=True)}\n\n"
    except OpenVertexError as exc:
        yield f"data: {json.dumps(body_of(exc))}\n\n"
        return
    except Exception:
        log.exception("stream failed")
        yield f"data: {json.dumps(error_body(500, 'Internal error.'))}\n\n"
        return
    yield "data: [DONE]\n\n"


class _ClosingStream(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with aclosing(self.body_iterator):  # type: ignore[type-var]
            await super().__call__(scope, receive, send)


def sse_response(
    chunks: AsyncIterator[BaseModel], headers: dict[str, str] | None = None
) -> StreamingResponse:
    return _ClosingStream(
        _events(chunks),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )
