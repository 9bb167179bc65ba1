"""What every attack test asks of the server: it answered at once meanwhile, and its memory held.

`HealthWatch` polls `/healthz` from a thread while an attack runs and keeps the slowest
answer; `PeakMemory` resets the server process's peak resident size and reads it back, so a
test can bound what one request cost.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

HEALTHZ_BOUND_S = 0.25  # no request may stall others for longer than this


class HealthWatch:
    """`with HealthWatch(url) as watch: ...attack...`, then `watch.worst` (seconds)."""

    def __init__(self, url: str, every_s: float = 0.02) -> None:
        self.url = url
        self.every_s = every_s
        self.worst = 0.0
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                client.get(f"{self.url}/healthz").raise_for_status()
                self.worst = max(self.worst, time.perf_counter() - started)
                self.polls += 1
                self._stop.wait(self.every_s)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def assert_responsive(self) -> None:
        assert self.polls > 0, "/healthz was never answered"
        assert self.worst < HEALTHZ_BOUND_S, f"/healthz took {self.worst * 1000:.0f} ms"


class PeakMemory:
    """The server's peak resident memory over a block, above what it held when it began (MiB)."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.clear_refs = Path(f"/proc/{pid}/clear_refs")
        self.grown_mib = 0.0

    def _read(self, field: str) -> float:
        for line in self.status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise LookupError(field)

    def __enter__(self) -> PeakMemory:
        self.clear_refs.write_text("5")  # resets VmHWM to the current resident size
        self.start_mib = self._read("VmRSS")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.grown_mib = self._read("VmHWM") - self.start_mib
