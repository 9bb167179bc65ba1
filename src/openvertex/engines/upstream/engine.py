"""An engine that is a pool of servers: vLLM, llama.cpp, SGLang, openvertex, Gemini.

The intent is compiled into the server's own request and its reply read back as
events by the server's API (`openai_compat.py`, `gemini.py`). A streamed
request streams from the upstream as it comes, never buffered; a whole one is
asked for whole.

Failures: a request that got no byte yet from a replica (it could not connect,
answered 5xx, or timed out) is retried on another, and that replica ejected
(`pool.py`). A whole reply has sent the client nothing until it is complete, so
it is retried too. A stream that broke before its first event is retried; after
it, never: it ends with an error event (502). An upstream's 4xx is the client's mistake and
reaches it as a 4xx; the upstream refusing openvertex's own key, or not knowing
the configured model, is the operator's, and a 502.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx

from openvertex.core.events import Event
from openvertex.core.request import GenerationRequest
from openvertex.engines.base import Capabilities, Token
from openvertex.engines.event_stream import event_lines
from openvertex.engines.prompted.tool_calls import read_tool_calls
from openvertex.engines.upstream.api import UpstreamApi
from openvertex.engines.upstream.pool import Replica, ReplicaPool
from openvertex.errors import (
    BadGateway,
    DeadlineExceeded,
    InvalidArgument,
    OpenVertexError,
    ResourceExhausted,
)


class _Retry(Exception):
    """This replica failed before sending anything back; the next one may not."""


@dataclass(slots=True)
class _Attempts:
    """The replicas one request has tried."""

    tried: set[Replica] = field(default_factory=set)
    stale: set[Replica] = field(default_factory=set)

    def failed(self, pool: ReplicaPool, replica: Replica, exc: Exception) -> None:
        """Eject the replica; but a kept-alive connection it had closed is not its failure:
        then it may be tried once more, on a new connection."""
        cause = exc.__cause__ if isinstance(exc, _Retry) else exc
        if not isinstance(cause, httpx.RemoteProtocolError):
            pool.failed(replica, str(exc) or type(exc).__name__)
        elif replica not in self.stale:
            self.stale.add(replica)
            self.tried.discard(replica)


class UpstreamEngine:
    def __init__(
        self,
        api: UpstreamApi,
        urls: list[str],
        *,
        auth: httpx.Auth | None = None,
        limit: int = 32,
        timeout_s: float = 600,
        context: int | None = None,
    ) -> None:
        self.api = api
        self.timeout_s = timeout_s
        self.context = context
        self._client = httpx.AsyncClient(
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=limit),
        )
        self.pool = ReplicaPool(urls, limit=limit, client=self._client, probe_path=api.probe_path)
        self._started = False

    @property
    def ready(self) -> bool:
        """Started: a pool with no healthy replica refuses requests itself, with a 503,
        rather than taking the whole server out of its load balancer."""
        return self._started

    @property
    def capabilities(self) -> Capabilities:
        replicas = ", ".join(
            f"{r.url} ({'healthy' if r.healthy else 'ejected'}, {r.outstanding} busy)"
            for r in self.pool.replicas
        )
        details = self.api.details
        return Capabilities(
            backend=f"upstream {details['dialect']} server pool "
            f"({len(self.pool.healthy)} of {len(self.pool.replicas)} replicas healthy)",
            weights=self.api.model,
            context_window=self.context or 0,
            slots=self.pool.limit * len(self.pool.replicas),
            input_modalities=self.api.modalities,
            output_modalities=self.api.output_modalities,
            details={
                "upstreams": replicas,
                "tools": "prompted (tools in the system turn)"
                if self.api.prompted_tools
                else "native",
                **details,
            },
        )

    async def start(self) -> None:
        await self.pool.start()
        self._started = True

    async def close(self) -> None:
        await self.pool.close()
        await self._client.aclose()

    async def check(self, request: GenerationRequest) -> None:
        if request.prompt is not None:  # an upstream only speaks chat: it would wrap the text
            raise InvalidArgument(
                f"Model {request.model!r} is served by an upstream "
                f"({self.api.details['dialect']}); legacy completions (a prompt continued "
                "as is) are served by the embedded engine only. Use chat completions.",
                param="model",
            )
        if self.api.compiles:
            await asyncio.to_thread(self.api.body, request)
        # Otherwise the upstream says what it refuses, as a 4xx.

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        if request.image is not None:
            events = self._draw(request)
        else:
            body = await asyncio.to_thread(self.api.body, request)  # may compile a grammar
            events = self._stream(body) if request.stream else self._whole(body)
        if self.api.prompted_tools and request.tools is not None and request.tools.callable:
            events = read_tool_calls(events, frozenset(request.tools.allowed))
        try:
            async with asyncio.timeout(self.timeout_s):
                async for event in events:
                    yield event
        except TimeoutError:
            raise DeadlineExceeded(
                f"The upstream did not finish within {self.timeout_s:g} s."
            ) from None
        except httpx.HTTPError as exc:  # whatever slipped past the retries: never a 500
            raise BadGateway(f"The upstream failed: {type(exc).__name__}.") from exc
        finally:
            await events.aclose()  # the response and the replica's lease, now

    async def count_tokens(self, request: GenerationRequest) -> int:
        return await self.api.count_tokens(request, self._post)

    async def tokenize(self, text: str) -> list[Token]:
        return await self.api.tokenize(text, self._post)

    async def _draw(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        for event in await self.api.draw(request, self._post):
            yield event

    async def _whole(self, body: dict[str, Any]) -> AsyncGenerator[Event, None]:
        reply = await self._post(lambda replica: self.api.url(replica, False), body)
        for event in self.api.reader().whole(reply):
            yield event

    async def _stream(self, body: dict[str, Any]) -> AsyncGenerator[Event, None]:
        attempts = _Attempts()
        while True:
            async with self.pool.lease(attempts.tried) as replica:
                attempts.tried.add(replica)
                request = self._client.build_request("POST", self.api.url(replica, True), json=body)
                try:
                    response = await self._client.send(request, stream=True)
                except httpx.TransportError as exc:  # no answer began: try another replica
                    attempts.failed(self.pool, replica, exc)
                    continue
                try:
                    if response.status_code >= 500:
                        self.pool.failed(replica, f"answered {response.status_code}")
                        continue
                    await self._refuse_unless_ok(response)
                    self.pool.succeeded(replica)
                    sent = False
                    try:
                        async for event in self._read_stream(replica, response):
                            sent = True
                            yield event
                    except BadGateway:
                        if sent:
                            raise
                        continue  # it broke before the client got anything: another replica
                    return
                finally:
                    await response.aclose()

    async def _read_stream(
        self, replica: Replica, response: httpx.Response
    ) -> AsyncGenerator[Event, None]:
        """The events of a stream that has begun: any failure now ends it with an error."""
        reader = self.api.reader()
        try:
            async for line in event_lines(response):
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                chunk = json.loads(line.removeprefix("data:"))
                if "error" in chunk:
                    raise _refusal(_status_of(chunk["error"]), chunk["error"], {})
                for event in reader.chunk(chunk):
                    yield event
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            if isinstance(exc, httpx.TransportError):
                self.pool.failed(replica, f"stream broke: {type(exc).__name__}")
            raise BadGateway(
                f"The upstream stream broke after it began ({type(exc).__name__}); "
                "a stream is never retried once it has started."
            ) from exc
        for event in reader.end():
            yield event

    async def _post(self, url: Any, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to `url(replica)` on the least busy replica, the next if it fails."""

        async def post(replica: Replica) -> dict[str, Any]:
            try:
                response = await self._client.post(url(replica), json=body)
            except httpx.TransportError as exc:
                raise _Retry(f"{type(exc).__name__}: {exc}") from exc
            await self._refuse_unless_ok(response)
            return response.json()

        return await self._on_some_replica(post)

    async def _on_some_replica(self, call: Any) -> Any:
        """`call(replica)` on the least busy replica, then the next, until one works."""
        attempts = _Attempts()
        while True:
            async with self.pool.lease(attempts.tried) as replica:
                attempts.tried.add(replica)
                try:
                    result = await call(replica)
                except _Retry as exc:
                    attempts.failed(self.pool, replica, exc)
                    continue
                self.pool.succeeded(replica)
                return result

    async def _refuse_unless_ok(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            raise _Retry(f"answered {response.status_code}")
        if response.status_code != 200:
            await response.aread()
            with contextlib.suppress(ValueError):
                error = response.json().get("error")
                raise _refusal(response.status_code, error, response.headers)
            raise _refusal(response.status_code, response.text[:300], response.headers)


def _status_of(error: Any) -> int:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else 500


def _refusal(status: int, error: Any, headers: Any) -> OpenVertexError:
    """An upstream's refusal, as the client's error or the operator's."""
    message = error.get("message") if isinstance(error, dict) else error
    message = str(message or f"status {status}")[:500]
    if status == 429:
        retry_after = headers.get("retry-after", "1")
        wait = int(retry_after) if str(retry_after).isdigit() else 1
        return ResourceExhausted(f"The upstream is at capacity: {message}", retry_after=wait)
    if status in (401, 403):
        return BadGateway(f"The upstream refused openvertex's credentials ({status}).")
    if status == 404:
        return BadGateway(f"The upstream does not serve the configured model: {message}")
    if status >= 500:
        return BadGateway(f"The upstream failed ({status}): {message}")
    return InvalidArgument(f"The upstream refused the request: {message}")
