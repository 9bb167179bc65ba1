"""A bounded queue in front of the engine's slots.

A request takes one slot per choice it asks for (`n`), since each choice is
decoded in a slot of its own. Requests wait for their slots in order, first come
first served, and at most `queue` of them wait; anything beyond is refused at
once with a 429 whose Retry-After comes from how long requests have lately held
their slots. So memory stays bounded under any load, and clients back off
instead of piling up.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

from openvertex.errors import ResourceExhausted, Unavailable
from openvertex.record import RequestRecord
from openvertex.serving.draining import Drain
from openvertex.telemetry import Metrics


class Admission:
    def __init__(self, slots: int, queue: int, metrics: Metrics, drain: Drain) -> None:
        self.slots = slots
        self.queue = queue
        self._drain = drain
        self._metrics = metrics
        self._free = slots
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._hold_s = 1.0  # moving average of how long a request holds its slots
        metrics.slots.inc(slots)  # one gauge over every engine's admission

    @property
    def busy(self) -> int:
        """Slots generating now."""
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._waiting)

    def check_room(self, choices: int = 1) -> None:
        """Refuse now if a request could not even wait: called before its body is read too."""
        if self._drain.started:
            raise Unavailable("The server is shutting down; retry on another instance.")
        if self._must_wait(min(choices, self.slots)) and len(self._waiting) >= self.queue:
            self._metrics.rejected.labels("queue_full").inc()
            raise ResourceExhausted(
                f"The server is at capacity (all {self.slots} slots busy, "
                f"{len(self._waiting)} requests waiting); retry shortly.",
                retry_after=self._retry_after(),
            )

    async def enter(self, record: RequestRecord, choices: int = 1) -> None:
        """Wait for `choices` slots, held until `record` ends; or refuse when the queue is full."""
        self.check_room(choices)
        need = min(choices, self.slots)
        queued = time.perf_counter()
        if self._must_wait(need):
            await self._wait_in_line(need)
        else:
            self._free -= need
        held = time.perf_counter()
        self._metrics.queue_wait.observe(held - queued)
        self._metrics.active_slots.inc(need)

        def release() -> None:
            self._metrics.active_slots.dec(need)
            self._hold_s = 0.8 * self._hold_s + 0.2 * (time.perf_counter() - held)
            self._release(need)

        record.on_end(release)

    def _must_wait(self, need: int) -> bool:
        return bool(self._waiting) or self._free < need

    async def _wait_in_line(self, need: int) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((need, turn))
        self._metrics.queue_depth.inc()
        try:
            await turn
        except asyncio.CancelledError:  # the client left while waiting
            if turn.done() and not turn.cancelled():
                self._release(need)  # its turn had just come: pass it on
            else:
                self._waiting.remove((need, turn))
                self._release(0)  # those behind it may fit now
            raise
        finally:
            self._metrics.queue_depth.dec()

    def _release(self, count: int) -> None:
        self._free += count
        while self._waiting and self._waiting[0][0] <= self._free:
            need, turn = self._waiting.popleft()
            self._free -= need
            turn.set_result(None)

    def _retry_after(self) -> int:
        """Seconds until the queue has likely moved past everyone waiting now."""
        waiting = len(self._waiting) + 1
        return min(60, max(1, math.ceil(self._hold_s * waiting / self.slots)))
