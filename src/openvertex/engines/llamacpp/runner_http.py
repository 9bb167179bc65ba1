"""HTTP/1.1 to a runner over its Unix socket: one exchange per connection, parsed by httptools.

Every streamed token crosses this hop, on cores llama.cpp needs. httpx spent about
350 µs of CPU per token reading a runner's stream (h11 in pure Python, anyio's
cancel scopes, a timeout per read); this reads the same stream for about 140 µs at one
stream and 50 at eight. The parser is llhttp (through httptools, which uvicorn
already uses), chunked framing is undone in C, and each event line is handed over as
bytes with no object in between. A connection of its own per request over a Unix
socket costs a few tens of microseconds, and there is no kept-alive connection that
llama.cpp might close under a new request.

A consumer slower than the model (a client reading slowly) pauses the reading, so
the socket, not memory, holds what it has not taken yet.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools

_PAUSE_AT = 64  # event lines waiting for the consumer


class RunnerGone(ConnectionError):
    """The runner closed the connection, or was never there to take it."""


class Exchange(asyncio.Protocol):
    """One request and its response, on a connection of its own."""

    def __init__(self, streaming: bool) -> None:
        self._streaming = streaming  # an OK body is read as event-stream lines
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._wake: asyncio.Future[None] | None = None
        self._lines: deque[bytes] = deque()
        self._partial = b""
        self._body = bytearray()
        self._paused = False
        self.status = 0
        self._headers_done = False
        self.complete = False
        self._lost: Exception | None = None

    # The exchange, from the consumer's side
    async def send(self, head: bytes, body: bytes) -> None:
        """Write the request, then wait for the response's status and headers."""
        assert self._transport is not None
        self._transport.write(head + body)
        while not self._headers_done:
            await self._wait()

    async def read(self) -> bytes:
        """The whole body."""
        while not self.complete:
            await self._wait()
        return bytes(self._body)

    async def lines(self) -> AsyncIterator[bytes]:
        """Each non-empty line of an event stream, without its line feed."""
        lines = self._lines
        while True:
            while lines:
                line = lines.popleft()
                if self._paused and len(lines) < _PAUSE_AT // 2:
                    self._paused = False
                    assert self._transport is not None  # lines come only once connected
                    self._transport.resume_reading()
                yield line
            if self.complete:
                if self._partial.strip():
                    yield self._partial.rstrip(b"\r")
                return
            await self._wait()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _wait(self) -> None:
        if self._lost is not None:
            raise RunnerGone(str(self._lost) or "the runner closed the connection")
        self._wake = self._loop.create_future()
        try:
            await self._wake
        finally:
            self._wake = None

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream's: it can pause

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._lost = exc
            assert self._transport is not None  # data comes only once connected
            self._transport.close()
        self._notify()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.complete and self._lost is None:
            self._lost = exc or RunnerGone("the runner closed the connection mid-reply")
        self._notify()

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        if self.status != 200 or not self._streaming:
            self._body += body
            return
        *lines, self._partial = (self._partial + body).split(b"\n")
        self._lines.extend(line.rstrip(b"\r") for line in lines if line and line != b"\r")
        if len(self._lines) >= _PAUSE_AT and not self._paused:
            self._paused = True
            assert self._transport is not None  # data comes only once connected
            self._transport.pause_reading()

    def on_message_complete(self) -> None:
        self.complete = True


async def open_exchange(
    socket_path: str,
    method: str,
    target: str,
    body: bytes,
    headers: dict[str, str],
    *,
    streaming: bool = False,
) -> Exchange:
    """Connect, send one request, and return once its status and headers are in;
    `streaming`: an OK reply's body is an event stream, read with `lines()`."""
    loop = asyncio.get_running_loop()
    try:
        _, exchange = await loop.create_unix_connection(lambda: Exchange(streaming), socket_path)
    except OSError as exc:
        raise RunnerGone(str(exc)) from exc
    lines = [f"{method} {target} HTTP/1.1", "Host: runner", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    try:
        await exchange.send(("\r\n".join(lines) + "\r\n\r\n").encode(), body)
    except BaseException:
        exchange.close()
        raise
    return exchange
