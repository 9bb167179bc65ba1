"""Each request's beginning and end: its id, its record, and what is told when it ends.

The id is the caller's `x-request-id` when it is a plain token (so ids can follow a
request across services), else a new one; every response carries it. The record
(`request.state.record`) is filled in by the route and the metering tap; once the
response is over (a stream's last byte, an error, or the client gone) it is
handed to `finish`, which feeds the access log, metrics, quotas and the ledger.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openvertex.errors import REQUEST_ID
from openvertex.record import RequestRecord

HEADER = "x-request-id"
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestLifecycle:
    def __init__(self, app: ASGIApp, finish: Callable[[RequestRecord], None]) -> None:
        self.app = app
        self.finish = finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        request_id = given if _ACCEPTED.match(given) else f"req_{secrets.token_hex(12)}"
        record = RequestRecord(request_id, scope["method"], scope["path"])
        scope.setdefault("state", {})["record"] = record
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            if route := scope.get("route"):
                record.route = route.path
            record.end()
            self.finish(record)
