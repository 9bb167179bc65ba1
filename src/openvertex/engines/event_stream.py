"""The lines of a server-sent event stream that an engine reads (llama.cpp, vLLM, …).

httpx's `aiter_lines` splits text as `str.splitlines` does: also at U+2028, U+0085
and the other Unicode line breaks. llama.cpp and vLLM write non-ASCII characters in
their JSON unescaped, so a token such as U+2028 cut a chunk in two and broke the
stream. An event stream's lines end only at a line feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


async def event_lines(response: httpx.Response) -> AsyncIterator[str]:
    """Each line of the stream, without its line ending."""
    pending = b""
    async for data in response.aiter_bytes():
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r").decode()
    if pending:
        yield pending.removesuffix(b"\r").decode()
