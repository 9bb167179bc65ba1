"""Which llama.cpp models are loaded, and how they share the machine's memory and cores.

The chat models load at start-up (`preload`), in tier order while the memory budget
allows, so that no first request waits for a load, and they stay loaded. Any other
model loads on first use and, as Ollama's keep-alive does, unloads when idle for
`keep_alive` seconds. Before a load that would pass the memory budget the least
recently used idle models are unloaded first. A model in use is never unloaded; one
that still does not fit loads anyway, with a warning, rather than refusing work.

The cores follow the work: the models computing at the moment (generating, embedding
or loading) share the cores equally, so a model busy alone computes with all of them
whatever else is loaded, and two busy models each take half rather than spinning
against each other (`thread_limit.py`). A model whose `threads` are set keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from openvertex.engines.llamacpp.runner import Runner
from openvertex.errors import Unavailable

log = logging.getLogger("openvertex")


class Resident:
    """One model's runner process, started on first use (or at start-up) and stopped
    when idle."""

    def __init__(
        self,
        runner: Runner,
        footprint: int,
        residency: Residency,
        loaded: Callable[[Runner], Awaitable[None]],
        preload: bool = False,
    ) -> None:
        self.runner = runner
        self.footprint = footprint  # bytes of weights, roughly what loading takes
        self.preload = preload  # loaded at start-up, and kept loaded while memory allows
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
    async def use(self, computing: bool = True) -> AsyncIterator[Runner]:
        """The loaded model's runner for the whole block, not stopped while any block is
        open. A load the requests waiting for it all leave is abandoned. `computing`: the
        block keeps the model's cores busy (a generation, not a tokenization)."""
        self.active += 1
        if computing:
            self._residency.computing(self, +1)
        try:
            async with self._lock:
                if not self.runner.ready:  # never started, stopped, or its process died
                    await self._load()
            yield self.runner
        finally:
            self.active -= 1
            if computing:
                self._residency.computing(self, -1)
            self.last_used = time.monotonic()

    async def _load(self) -> None:
        await self._residency.make_room(self)
        log.info("loading %s (%d MB)…", self.name, self.footprint >> 20)
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

    async def unload(self, why: str) -> bool:
        """Stop it now if loaded and idle (not in use, nor waited for); whether it was."""
        if self._lock.locked() or self.active or not self.loaded:
            return False
        async with self._lock:
            await self.runner.stop()
        log.info("unloaded %s (%s)", self.name, why)
        return True


class Residency:
    """The loaded models of one process, within a memory budget and a keep-alive, and
    the cores they share."""

    def __init__(self, budget_bytes: int, keep_alive_s: float | None, cores: int) -> None:
        self.budget_bytes = budget_bytes
        self.keep_alive_s = keep_alive_s
        self.cores = cores
        self.residents: list[Resident] = []
        self._computing: dict[Resident, int] = {}  # blocks open per model, in arrival order
        self.preloaded = False  # the start-up loads are done (or were not wanted)

    async def preload(self) -> None:
        """Load the models that preload, in order, while the memory budget allows."""
        try:
            for resident in (r for r in self.residents if r.preload):
                if self._used() + resident.footprint > self.budget_bytes:
                    log.info("not loading %s at start-up: over the memory budget", resident.name)
                    resident.preload = False  # it loads on first use, like any other
                    continue
                with contextlib.suppress(Unavailable):  # logged; its requests get the 503
                    async with resident.use():
                        pass
        finally:
            self.preloaded = True

    def computing(self, resident: Resident, change: int) -> None:
        """A block of `resident` that computes opens (+1) or closes (-1); when the set of
        busy models changes, the cores are shared anew among them."""
        count = self._computing.pop(resident, 0) + change
        if count > 0:
            self._computing[resident] = count
        if count == (1 if change > 0 else 0):
            busy = list(self._computing)
            each, extra = divmod(self.cores, max(len(busy), 1))
            for i, model in enumerate(busy):
                model.runner.threads = max(1, each + (i < extra))

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
                if not resident.preload and now - resident.last_used >= self.keep_alive_s:
                    await resident.unload(f"idle for {self.keep_alive_s:g} s")
