"""How openvertex proves itself to an upstream: a fixed key, or the operator's Google account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator

import httpx

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


class Key(httpx.Auth):
    """An API key in a header: `Authorization: Bearer …`, or Google's `x-goog-api-key`."""

    def __init__(self, key: str, header: str = "Authorization") -> None:
        self.header = header
        self.value = f"Bearer {key}" if header == "Authorization" else key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self.value
        yield request


class GoogleCredentials(httpx.Auth):
    """Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata),
    refreshed before they expire; the refresh runs on a thread, off the event loop."""

    def __init__(self) -> None:
        import google.auth

        self.credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
        self._lock = asyncio.Lock()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._lock:
            if not self.credentials.valid:
                await asyncio.to_thread(self._refresh)
        request.headers["Authorization"] = f"Bearer {self.credentials.token}"
        yield request

    def _refresh(self) -> None:
        import google.auth.transport.requests

        self.credentials.refresh(google.auth.transport.requests.Request())
