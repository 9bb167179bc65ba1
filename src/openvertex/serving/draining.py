"""Graceful shutdown: on SIGTERM, stop taking work and give what runs a deadline.

uvicorn stops accepting connections and waits for open ones; this adds the
deadline. Until it passes, replies and streams go on; when it passes, whatever
a reply is waiting for (a slot, its next token) is cancelled and the reply ends
with a 503, which a stream sends as an error event, never silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from contextlib import aclosing
from typing import TypeVar

from openvertex.errors import Unavailable

T = TypeVar("T")


class Drain:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.started = False
        self._over = False  # the grace period has ended
        self._waiting: set[asyncio.Task] = set()  # tasks awaiting bounded work now
        self._cut: set[asyncio.Task] = set()  # of those, the ones the deadline cancelled

    def begin(self) -> None:
        """Start the grace period (on the event loop); waits running now get the deadline too."""
        if self.started:
            return
        self.started = True
        asyncio.get_running_loop().call_later(self.grace_s, self._end)

    def _end(self) -> None:
        self._over = True
        for task in self._waiting:
            self._cut.add(task)
            task.cancel()

    async def bounded(self, work: Awaitable[T]) -> T:
        """Await `work`, or give up with a 503 when the grace period ends first."""
        task = self._enter(work)
        try:
            return await work
        except asyncio.CancelledError:
            if self._ended(task):
                raise self._unavailable() from None
            raise
        finally:
            self._waiting.discard(task)

    async def cut(self, events: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
        """Pass `events` through, each one bounded by the deadline."""
        async with aclosing(events):
            while True:
                try:
                    event = await self.bounded(anext(events))
                except StopAsyncIteration:
                    return
                yield event

    def _enter(self, work: Awaitable[object]) -> asyncio.Task:
        """The task about to wait for `work`, cancelled if the grace period ends meanwhile."""
        if self._over:
            if close := getattr(work, "close", None):
                close()  # never started
            raise self._unavailable()
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        return task

    def _ended(self, task: asyncio.Task) -> bool:
        """Whether the deadline, and nothing else, cancelled `task`'s wait."""
        if task not in self._cut:
            return False
        self._cut.discard(task)
        return task.uncancel() == 0

    def _unavailable(self) -> Unavailable:
        return Unavailable(
            "The server is shutting down and this reply reached the end of its "
            f"{self.grace_s:g} s grace period; it was cut short."
        )
