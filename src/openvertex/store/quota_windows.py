"""Where quota windows are counted: in this process, or in Redis for every replica at once.

A window holds a project's requests and token charges of the last `window_s`
seconds. `admit` checks and records in one step (in Redis, one Lua script, on
Redis's own clock), so N replicas share one quota instead of having N of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("openvertex")


@dataclass(frozen=True, slots=True)
class Quota:
    rpm: int  # requests per window; 0 for no limit
    tpm: int  # tokens per window; 0 for no limit


@dataclass(frozen=True, slots=True)
class Over:
    """A refusal: which limit, and seconds until the window has room."""

    limit: Literal["rpm", "tpm"]
    wait_s: float


class Windows(Protocol):
    async def admit(self, project: str, quota: Quota) -> Over | None:
        """Record one request, unless it would go over `quota`."""
        ...

    def refund(self, project: str) -> None:
        """Uncount the latest request (admitted, then refused elsewhere)."""

    def charge(self, project: str, tokens: int) -> None:
        """Add a finished request's tokens to the window."""

    async def close(self) -> None: ...


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


class LocalWindows:
    """Windows in this process: right for one server."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    async def admit(self, project: str, quota: Quota) -> Over | None:
        now = self._clock()
        window = self._window(project, now)
        if quota.rpm and len(window.requests) >= quota.rpm:
            # Room comes when all but rpm - 1 of the window's requests have left it.
            return Over("rpm", window.requests[-quota.rpm] + self.window_s - now)
        if quota.tpm and window.tokens >= quota.tpm:
            tokens = window.tokens
            for at, charged in window.charges:  # never empty here: the window holds tokens
                tokens -= charged
                if tokens < quota.tpm:
                    return Over("tpm", at + self.window_s - now)
        window.requests.append(now)
        return None

    def refund(self, project: str) -> None:
        window = self._windows.get(project)
        if window is not None and window.requests:
            window.requests.pop()

    def charge(self, project: str, tokens: int) -> None:
        now = self._clock()
        window = self._window(project, now)
        window.charges.append((now, tokens))
        window.tokens += tokens

    async def close(self) -> None:
        pass

    def _window(self, project: str, now: float) -> _Window:
        if len(self._windows) > 1024:  # keep memory to the projects seen lately
            for name, stale in list(self._windows.items()):
                stale.forget_before(now - self.window_s)
                if not stale.requests and not stale.charges:
                    del self._windows[name]
        window = self._windows.setdefault(project, _Window())
        window.forget_before(now - self.window_s)
        return window


# KEYS: requests, charges (sorted sets scored by ms). ARGV: rpm, tpm, window ms, member.
# Returns {0} when admitted, else {1 (rpm) or 2 (tpm), ms until room}.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if rpm > 0 then
  local n = redis.call('ZCARD', KEYS[1])
  if n >= rpm then
    local leaving = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
    return {1, tonumber(leaving[2]) + window - now}
  end
end
if tpm > 0 then
  local charges = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local total = 0
  for i = 1, #charges, 2 do total = total + tonumber(string.match(charges[i], '(%d+)$')) end
  for i = 1, #charges, 2 do
    if total < tpm then break end
    total = total - tonumber(string.match(charges[i], '(%d+)$'))
    if total < tpm then return {2, tonumber(charges[i + 1]) + window - now} end
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {0}
"""

# KEYS: charges. ARGV: member ("<id>:<tokens>"), window ms.
_CHARGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""


class RedisWindows:
    """Windows in Redis, shared by every replica that points at it.

    Redis unreachable or failing: quotas fail open (the request is admitted) with
    a warning and `errors()` counted, never a 500; they apply again when it is back.
    """

    def __init__(
        self,
        url: str,
        window_s: float,
        *,
        on_error: Callable[[], None] = lambda: None,
        prefix: str = "openvertex:quota",
    ) -> None:
        self.window_s = window_s
        self._window_ms = max(1, round(window_s * 1000))
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=10
        )
        self._admit = self._client.register_script(_ADMIT)
        self._charge = self._client.register_script(_CHARGE)
        self._prefix = prefix
        self._on_error = on_error
        self._warned_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, project: str, quota: Quota) -> Over | None:
        args: list[int | str] = [quota.rpm, quota.tpm, self._window_ms, uuid.uuid4().hex]
        try:
            reply = await self._admit(keys=self._keys(project), args=args)
        except RedisError as exc:
            self._failed(exc)
            return None
        if int(reply[0]) == 0:
            return None
        return Over("rpm" if int(reply[0]) == 1 else "tpm", int(reply[1]) / 1000)

    def refund(self, project: str) -> None:
        self._later(self._client.zpopmax(self._keys(project)[0]))

    def charge(self, project: str, tokens: int) -> None:
        member = f"{uuid.uuid4().hex}:{tokens}"
        keys = self._keys(project)[1:]
        self._later(self._charge(keys=keys, args=[member, self._window_ms]))

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        await self._client.aclose()

    def _keys(self, project: str) -> list[str]:
        # One hash tag per project keeps its two keys on one Redis Cluster slot.
        return [f"{self._prefix}:{{{project}}}:requests", f"{self._prefix}:{{{project}}}:tokens"]

    def _later(self, work: Awaitable[object]) -> None:
        """Run a write without holding up the request that made it."""

        async def run() -> None:
            try:
                await work
            except RedisError as exc:
                self._failed(exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _failed(self, exc: Exception) -> None:
        self._on_error()
        now = time.monotonic()
        if now - self._warned_at > 10:  # a warning per 10 s, not per request
            self._warned_at = now
            log.warning("quota windows in Redis unreachable, quotas fail open: %s", exc)
