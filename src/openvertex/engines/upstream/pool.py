"""A pool of replicas of one upstream server: who is healthy, who is least busy.

Requests go to the healthy replica with the fewest outstanding requests, at most
`limit` at a time each. A replica that fails (it cannot be reached, answers 5xx,
or times out) is ejected and probed again after a backoff that doubles with each
failure (1 s … 60 s); a health check also runs every few seconds on the healthy
ones, so a replica that died while idle is found before a request meets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from openvertex.errors import Unavailable

log = logging.getLogger("openvertex.upstream")

MAX_BACKOFF_S = 60.0


@dataclass(eq=False, slots=True)
class Replica:
    url: str  # the OpenAI-compatible base, ending in /v1
    outstanding: int = 0
    healthy: bool = True
    failures: int = 0  # in a row
    probe_at: float = 0.0  # when an ejected replica is next probed

    @property
    def root(self) -> str:
        """The server's own root, where llama.cpp and vLLM keep /health and /tokenize."""
        return self.url.removesuffix("/").removesuffix("/v1")


class ReplicaPool:
    def __init__(
        self,
        urls: list[str],
        *,
        limit: int,
        client: httpx.AsyncClient,
        probe_path: str = "/models",
        check_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replicas = [Replica(url.rstrip("/")) for url in urls]
        self.limit = limit
        self.client = client
        self.probe_path = probe_path
        self.check_every_s = check_every_s
        self._clock = clock
        self._freed = asyncio.Condition()
        self._watcher: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> list[Replica]:
        return [r for r in self.replicas if r.healthy]

    async def start(self) -> None:
        await asyncio.gather(*(self._probe(r) for r in self.replicas))
        self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    @contextlib.asynccontextmanager
    async def lease(self, tried: set[Replica]) -> AsyncIterator[Replica]:
        """The least busy healthy replica not yet tried, held for the block's duration."""
        replica = await self._pick(tried)
        replica.outstanding += 1
        try:
            yield replica
        finally:
            replica.outstanding -= 1
            async with self._freed:
                self._freed.notify()

    async def _pick(self, tried: set[Replica]) -> Replica:
        async with self._freed:
            while True:
                candidates = [r for r in self.healthy if r not in tried]
                if not candidates:
                    raise Unavailable(
                        "No healthy upstream replica can take this request "
                        f"({len(self.healthy)} of {len(self.replicas)} healthy); retry shortly."
                    )
                free = [r for r in candidates if r.outstanding < self.limit]
                if free:
                    return min(free, key=lambda r: r.outstanding)
                await self._freed.wait()  # every healthy replica is at its limit

    def failed(self, replica: Replica, why: str) -> None:
        """Eject `replica` until its next probe."""
        replica.failures += 1
        backoff = min(MAX_BACKOFF_S, 2.0 ** (replica.failures - 1))
        replica.probe_at = self._clock() + backoff
        if replica.healthy:
            log.warning("upstream %s ejected for %.0f s: %s", replica.url, backoff, why)
        replica.healthy = False

    def succeeded(self, replica: Replica) -> None:
        replica.failures = 0

    async def _watch(self) -> None:
        next_round = self._clock() + self.check_every_s
        while True:
            await asyncio.sleep(0.25)
            now = self._clock()
            due = [r for r in self.replicas if not r.healthy and r.probe_at <= now]
            if now >= next_round:
                due += self.healthy
                next_round = now + self.check_every_s
            await asyncio.gather(*(self._probe(r) for r in due))

    async def _probe(self, replica: Replica) -> None:
        """A cheap GET every server of its kind answers (an OpenAI-compatible one: /models)."""
        try:
            reply = await self.client.get(replica.url + self.probe_path, timeout=5)
            ok = reply.status_code < 500
            why = f"health check answered {reply.status_code}"
        except httpx.HTTPError as exc:
            ok, why = False, f"health check failed: {type(exc).__name__}"
        if not ok:
            self.failed(replica, why)
        elif not replica.healthy or replica.failures:
            log.warning("upstream %s is back", replica.url)
            replica.healthy, replica.failures = True, 0
            async with self._freed:
                self._freed.notify_all()
