"""Which llama.cpp models are loaded: each loads on first use and unloads when idle.

As Ollama's keep-alive does: a model idle for `keep_alive` seconds is unloaded, and
before a load that would pass the memory budget the least recently used idle models
are unloaded first. A model in use is never unloaded; one that still does not fit
loads anyway, with a warning, rather than refusing work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from openvertex.engines.llamacpp.runner import Runner
from openvertex.errors import Unavailable

log = logging.getLogger("openvertex")


class Resident:
    """One model's runner process, started on first use and stopped when idle."""

    def __init__(
        self,
        runner: Runner,
        footprint: int,
        residency: Residency,
        loaded: Callable[[Runner], Awaitable[None]],
    ) -> None:
        self.runner = runner
        self.footprint = footprint  # bytes of weights, roughly what loading takes
        self._loaded = loaded  # what the engine reads off a freshly loaded model
        self._residency = residency
        self._lock = asyncio.Lock()
        self.active = 0
        self.last_used = 0.0
        residency.residents.append(self)

    @property
    def name(self) -> str:
        return self.runner.name

    @property
    def loaded(self) -> bool:
        return self.runner.ready

    @asynccontextmanager
    async def use(self) -> AsyncIterator[Runner]:
        """The loaded model's runner for the whole block, not stopped while any block is
        open. A load the requests waiting for it all leave is abandoned."""
        async with self._lock:
            if not self.runner.ready:  # never started, stopped, or its process died
                await self._residency.make_room(self)
                log.info("loading %s (%d MB) on first use…", self.name, self.footprint >> 20)
                started = time.perf_counter()
                try:
                    await self.runner.start()
                    await self._loaded(self.runner)
                except BaseException as exc:
                    await self.runner.stop()
                    if isinstance(exc, OSError | RuntimeError):  # weights missing or damaged
                        log.error("could not load %s: %s", self.name, exc)
                        raise Unavailable(f"The model {self.name} cannot load: {exc}") from exc
                    raise
                log.info("loaded %s in %.1f s", self.name, time.perf_counter() - started)
            self.active += 1
        try:
            yield self.runner
        finally:
            self.active -= 1
            self.last_used = time.monotonic()

    async def unload(self, why: str) -> bool:
        """Stop it now if loaded and idle (and not being loaded); whether it was."""
        if self._lock.locked() or self.active or not self.loaded:
            return False
        async with self._lock:
            await self.runner.stop()
        log.info("unloaded %s (%s)", self.name, why)
        return True


class Residency:
    """The loaded models of one process, within a memory budget and a keep-alive."""

    def __init__(self, budget_bytes: int, keep_alive_s: float | None) -> None:
        self.budget_bytes = budget_bytes
        self.keep_alive_s = keep_alive_s
        self.residents: list[Resident] = []

    async def make_room(self, incoming: Resident) -> None:
        """Unload idle models, least recently used first, until `incoming` fits."""
        idle = sorted((r for r in self.residents if r.loaded), key=lambda r: r.last_used)
        for resident in idle:
            if self._used() + incoming.footprint <= self.budget_bytes:
                return
            await resident.unload(f"memory budget, for {incoming.name}")
        if (need := self._used() + incoming.footprint) > self.budget_bytes:
            log.warning(
                "loading %s takes %d MB, over the memory budget of %d MB: nothing idle to unload",
                incoming.name,
                need >> 20,
                self.budget_bytes >> 20,
            )

    def _used(self) -> int:
        return sum(r.footprint for r in self.residents if r.loaded)

    async def run(self) -> None:
        """Unload models idle for longer than the keep-alive, until cancelled."""
        if self.keep_alive_s is None:
            return
        every = min(max(self.keep_alive_s / 4, 0.25), 30)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for resident in self.residents:
                if now - resident.last_used >= self.keep_alive_s:
                    await resident.unload(f"idle for {self.keep_alive_s:g} s")
