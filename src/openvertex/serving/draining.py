"""Graceful shutdown: on SIGTERM, stop taking work and give what runs a deadline.

uvicorn stops accepting connections and waits for open ones; this adds the
deadline. Until it passes, replies and streams go on; after it, each is cut at its
next event with a 503, which a stream sends as an error event, never silently.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from types import FrameType
from typing import TypeVar

import uvicorn

from openvertex.errors import Unavailable

T = TypeVar("T")


class Drain:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.deadline: float | None = None  # time.monotonic() at which replies are cut

    @property
    def started(self) -> bool:
        return self.deadline is not None

    def begin(self) -> None:
        """Called from the signal handler: only records the deadline."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.grace_s

    async def cut(self, events: AsyncIterator[T]) -> AsyncIterator[T]:
        """Pass `events` through until the deadline, then stop them with a 503."""
        async with aclosing(events):
            async for event in events:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    raise Unavailable(
                        "The server is shutting down and this reply reached the end of its "
                        f"{self.grace_s:g} s grace period; it was cut short."
                    )
                yield event


class DrainingServer(uvicorn.Server):
    """uvicorn, with SIGTERM starting the drain, and a clean exit 0 when it is done.

    uvicorn re-raises the signal after its own shutdown, so the process would die
    of SIGTERM; a supervisor should instead see a server that stopped as asked.
    Its own graceful timeout stays as a backstop, a few seconds past the deadline.
    """

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        config.timeout_graceful_shutdown = drain.grace_s + 5
        super().__init__(config)
        self.drain = drain

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: do not wait
        self.should_exit = True
        self.drain.begin()
