"""llama.cpp in process, with its own HTTP listener locked to openvertex.

xllamacpp opens llama.cpp's HTTP listener on loopback beside the in-process calls.
Some things (tokenizing, the model's properties) are reached only through it, so it
stays on, locked with a random API key that never leaves this object: it cannot be
used to get around openvertex's own front door.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from typing import Any

import xllamacpp


class LockedServer:
    def __init__(self, params: xllamacpp.CommonParams) -> None:
        self._api_key = secrets.token_urlsafe(32)
        params.api_keys = [self._api_key]
        params.hostnames = ["127.0.0.1"]
        params.ui = False
        params.endpoint_slots = False
        self.server = xllamacpp.Server(params)

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A call to the listener (blocking: run it off the event loop)."""
        request = urllib.request.Request(
            self.server.listening_address + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.load(reply)
