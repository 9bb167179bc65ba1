"""Server-sent events: one `data:` line per chunk, `[DONE]` at the end.

A failure after the stream has started cannot change the HTTP status any more,
so it goes out as `data: {"error": {...}}`, which the `openai` SDK raises.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from pydantic import BaseModel
from starlette.responses import StreamingResponse

from openvertex.api.errors import body_of, error_body
from openvertex.errors import OpenVertexError

log = logging.getLogger("openvertex")


async def _events(chunks: AsyncIterator[BaseModel]) -> AsyncIterator[str]:
    try:
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


def sse_response(
    chunks: AsyncIterator[BaseModel], headers: dict[str, str] | None = None
) -> StreamingResponse:
    return StreamingResponse(
        _events(chunks),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )
