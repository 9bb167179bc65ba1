"""Per-project quotas, as on Vertex: requests and tokens per minute.

Each project has a sliding window of its recent requests and of the tokens they
used. A request over either limit is refused with 429 RESOURCE_EXHAUSTED and a
Retry-After saying when the window will have room, which the `openai` SDK's
retry honours. Tokens are known only once a reply ends, so they are charged
then, and the token limit refuses requests once the window is full.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from openvertex.errors import ResourceExhausted
from openvertex.telemetry import Metrics


@dataclass(frozen=True, slots=True)
class Quota:
    rpm: int  # requests per window; 0 for no limit
    tpm: int  # tokens per window; 0 for no limit


@dataclass(slots=True)
class _Window:
    requests: deque[float] = field(default_factory=deque)
    charges: deque[tuple[float, int]] = field(default_factory=deque)
    tokens: int = 0

    def forget_before(self, start: float) -> None:
        while self.requests and self.requests[0] <= start:
            self.requests.popleft()
        while self.charges and self.charges[0][0] <= start:
            self.tokens -= self.charges.popleft()[1]


class Quotas:
    def __init__(
        self,
        quota_for: Callable[[str], Quota],
        *,
        window_s: float = 60,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self._quota_for = quota_for
        self._metrics = metrics
        self._window_s = window_s
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._per = "minute" if window_s == 60 else f"{window_s:g} s"

    async def admit(self, project: str) -> None:
        """Count one request against `project`, or refuse it with a 429."""
        quota = await asyncio.to_thread(self._quota_for, project)  # a store read: off the loop
        now = self._clock()
        window = self._window(project, now)
        if quota.rpm and len(window.requests) >= quota.rpm:
            # Room comes when all but rpm - 1 of the window's requests have left it.
            oldest_to_leave = window.requests[-quota.rpm]
            self._refuse("rpm", f"{quota.rpm} requests", project, oldest_to_leave - now)
        if quota.tpm and window.tokens >= quota.tpm:
            room_at = self._room_at(window, quota)
            self._refuse("tpm", f"{quota.tpm} tokens", project, room_at - now)
        window.requests.append(now)

    def refund(self, project: str) -> None:
        """Uncount a request admitted here but then refused elsewhere (a full queue)."""
        window = self._windows.get(project)
        if window is not None and window.requests:
            window.requests.pop()

    def charge(self, project: str, tokens: int) -> None:
        """Add the tokens a finished request used to its project's window."""
        if tokens > 0:
            now = self._clock()
            window = self._window(project, now)
            window.charges.append((now, tokens))
            window.tokens += tokens

    def _window(self, project: str, now: float) -> _Window:
        if len(self._windows) > 1024:  # keep memory to the projects seen lately
            for name, stale in list(self._windows.items()):
                stale.forget_before(now - self._window_s)
                if not stale.requests and not stale.charges:
                    del self._windows[name]
        window = self._windows.setdefault(project, _Window())
        window.forget_before(now - self._window_s)
        return window

    def _room_at(self, window: _Window, quota: Quota) -> float:
        """When enough charges leave the window to bring it under the token limit."""
        tokens = window.tokens
        for at, charged in window.charges:  # never empty here: the window holds tokens
            tokens -= charged
            if tokens < quota.tpm:
                return at
        raise AssertionError("a window over its token quota has charges")

    def _refuse(self, kind: str, limit: str, project: str, oldest_offset: float) -> None:
        if self._metrics is not None:
            self._metrics.rejected.labels(f"quota_{kind}").inc()
        wait = math.ceil(max(oldest_offset + self._window_s, 0.001))
        raise ResourceExhausted(
            f"Quota exceeded for project {project}: {limit} per {self._per}. Retry in {wait} s, "
            "or raise the quota with `openvertex projects set-quota`.",
            retry_after=wait,
            reason="RATE_LIMIT_EXCEEDED",
        )
