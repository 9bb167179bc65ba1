"""Per-project quotas, as on Vertex: requests and tokens per minute.

Each project has a sliding window of its recent requests and of the tokens they
used (`store/quota_windows.py`: in process, or in Redis shared by every replica). A
request over either limit is refused with 429 RESOURCE_EXHAUSTED and a
Retry-After saying when the window will have room, which the `openai` SDK's
retry honours. Tokens are known only once a reply ends, so they are charged
then, and the token limit refuses requests once the window is full.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from openvertex.errors import ResourceExhausted
from openvertex.store.quota_windows import LocalWindows, Quota, Windows
from openvertex.telemetry import Metrics

__all__ = ["Quota", "Quotas"]


class Quotas:
    def __init__(
        self,
        quota_for: Callable[[str], Quota],
        *,
        window_s: float = 60,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
        windows: Windows | None = None,
    ) -> None:
        self._quota_for = quota_for
        self._metrics = metrics
        self._windows = windows or LocalWindows(window_s, clock)
        self._per = "minute" if window_s == 60 else f"{window_s:g} s"

    async def admit(self, project: str) -> None:
        """Count one request against `project`, or refuse it with a 429."""
        quota = await asyncio.to_thread(self._quota_for, project)  # a store read: off the loop
        over = await self._windows.admit(project, quota)
        if over is None:
            return
        if self._metrics is not None:
            self._metrics.rejected.labels(f"quota_{over.limit}").inc()
        limit = f"{quota.rpm} requests" if over.limit == "rpm" else f"{quota.tpm} tokens"
        wait = math.ceil(max(over.wait_s, 0.001))
        raise ResourceExhausted(
            f"Quota exceeded for project {project}: {limit} per {self._per}. Retry in {wait} s, "
            "or raise the quota with `openvertex projects set-quota`.",
            retry_after=wait,
            reason="RATE_LIMIT_EXCEEDED",
        )

    def refund(self, project: str) -> None:
        """Uncount a request admitted here but then refused elsewhere (a full queue)."""
        self._windows.refund(project)

    def charge(self, project: str, tokens: int) -> None:
        """Add the tokens a finished request used to its project's window."""
        if tokens > 0:
            self._windows.charge(project, tokens)

    async def close(self) -> None:
        await self._windows.close()
