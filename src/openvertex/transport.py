"""uvicorn's httptools connection, with the three guards uvicorn itself lacks.

- A connection that has not sent a request's complete headers within `header_timeout_s`
  of opening (or of the request's first byte, on a kept-alive connection) is closed:
  uvicorn arms no timer until a first response is sent, so a slowloris client that
  trickles header bytes held its connection for ever.
- Request headers (request line included) larger than `max_header_bytes` get a 431:
  httptools accepts headers of any size, buffering them whole.
- Beyond `max_connections` open connections, a new one gets a 503 and is closed.
  uvicorn's `limit_concurrency` answers 503 to requests but still accepts and holds
  every connection, so it caps work, not sockets.

The parser stays httptools, uvicorn's fastest; h11's `h11_max_incomplete_event_size`
would bound header size only, at a cost to streaming. Refusals speak the error envelope.
Idle kept-alive connections are still governed by uvicorn's own keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from openvertex.errors import error_body

_GOOGLE_STATUS = {408: "DEADLINE_EXCEEDED", 431: "INVALID_ARGUMENT", 503: "UNAVAILABLE"}


@dataclass(frozen=True)
class TransportLimits:
    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024
    max_connections: int = 1024


def guarded_protocol(limits: TransportLimits) -> type[asyncio.Protocol]:
    """The protocol class to give `uvicorn.Config(http=...)`, bound to `limits`."""
    return type("GuardedProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class _HeadersTooLarge(Exception):
    """Raised from a parser callback to stop httptools mid-headers."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits = TransportLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._awaiting_headers = True  # the next bytes are a request's start
        self._received = 0  # bytes read while awaiting headers: catches one huge header early
        self._header_size = 0  # the parsed request line and headers: exact
        self._oversized = False

    # Connection lifetime
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn overrides it: a stream transport
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "The server has too many open connections; retry shortly.")
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._received += len(data)
        super().data_received(data)
        if (
            self._awaiting_headers
            and self._received > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431, self._too_large_message())

    def send_400_response(self, msg: str) -> None:
        if self._oversized:  # our callback stopped the parser, not a malformed request
            self._refuse(431, self._too_large_message())
        else:
            super().send_400_response(msg)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_size = 0
        if self._deadline is None:
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._received = 0
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True

    # The guards
    def _count(self, size: int) -> None:
        self._header_size += size
        if self._header_size > self.limits.max_header_bytes:
            self._oversized = True
            raise _HeadersTooLarge

    def _too_large_message(self) -> str:
        return f"The request headers are larger than {self.limits.max_header_bytes} bytes."

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.limits.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._received:  # a request had begun: say why it ends
            self._refuse(408, "The request headers did not arrive in time.")
        else:  # an idle connection that never spoke: a 408 could be misread as a later reply
            self.transport.close()

    def _refuse(self, code: int, message: str) -> None:
        """Answer `code` in the envelope and close, unless a response is still being sent."""
        self._disarm()
        if self.cycle is None or self.cycle.response_complete:
            envelope = error_body(code, message, status=_GOOGLE_STATUS[code])
            body = json.dumps(envelope).encode()
            head = [STATUS_LINE[code]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + body)
        self.transport.close()
