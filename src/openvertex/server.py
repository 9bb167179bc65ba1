"""The HTTP server process: uvicorn, with SIGTERM draining and a clean exit 0.

uvicorn re-raises the signal after its own shutdown, so the process would die
of SIGTERM; a supervisor should instead see a server that stopped as asked.
Its graceful timeout stays as a backstop, a few seconds past the drain's deadline.
Idle connections are kept longer than clients keep theirs (httpx: 5 s), so a
client never reuses a connection the server closed at the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn

from openvertex.serving.draining import Drain

KEEP_ALIVE_S = 65


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        config.timeout_graceful_shutdown = drain.grace_s + 5
        config.timeout_keep_alive = KEEP_ALIVE_S
        super().__init__(config)
        self.drain = drain

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread
            return
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
        # A signal handler runs between two bytecodes of the loop's thread: schedule, don't act.
        asyncio.get_running_loop().call_soon_threadsafe(self.drain.begin)
