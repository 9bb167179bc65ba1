"""Graceful shutdown: on SIGTERM, stop taking work and give what runs a deadline.

uvicorn stops accepting connections and waits for open ones; this adds the
deadline. Until it passes, replies and streams go on; when it passes, whatever
a reply is waiting for (a slot, its next token) is cancelled and the reply ends
with a 503, which a stream sends as an error event, never silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing
from typing import TypeVar

from openvertex.errors import Unavailable

T = TypeVar("T")


class Drain:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.started = False
        self._deadline: float | None = None  # in the event loop's time
        self._waits: set[asyncio.Timeout] = set()

    def begin(self) -> None:
        """Start the grace period (on the event loop): waits running now get the deadline too."""
        if self.started:
            return
        self.started = True
        self._deadline = asyncio.get_running_loop().time() + self.grace_s
        for wait in self._waits:
            wait.reschedule(self._deadline)

    async def bounded(self, work: Awaitable[T]) -> T:
        """Await `work`, or give up with a 503 when the grace period ends first."""
        wait = asyncio.timeout_at(self._deadline)
        self._waits.add(wait)
        try:
            async with wait:
                return await work
        except TimeoutError:
            if not wait.expired():
                raise
            raise Unavailable(
                "The server is shutting down and this reply reached the end of its "
                f"{self.grace_s:g} s grace period; it was cut short."
            ) from None
        finally:
            self._waits.discard(wait)

    async def cut(self, events: AsyncIterator[T]) -> AsyncIterator[T]:
        """Pass `events` through, each one bounded by the deadline."""
        async with aclosing(events):  # type: ignore[type-var]
            while True:
                try:
                    event = await self.bounded(anext(events))
                except StopAsyncIteration:
                    return
                yield event
