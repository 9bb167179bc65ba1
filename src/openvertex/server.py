"""The HTTP server process: uvicorn, with SIGTERM draining and a clean exit 0.

uvicorn re-raises the signal after its own shutdown, so the process would die
of SIGTERM; a supervisor should instead see a server that stopped as asked.
Its graceful timeout stays as a backstop, a few seconds past the drain's deadline.
Idle connections are kept longer than clients keep theirs (httpx: 5 s), so a
client never reuses a connection the server closed at the same instant. A connection
that has not finished a request's headers is not idle: `openvertex.transport` closes
it after the header timeout, caps header size and the number of connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from openvertex.config import Settings
from openvertex.serving.draining import Drain
from openvertex.transport import TransportLimits, guarded_protocol

KEEP_ALIVE_S = 65


def _room_for(connections: int) -> None:
    """Raise the open-file limit so the connection cap, not EMFILE, is what refuses.

    Many systems start processes with a soft limit of 1024 descriptors; the model,
    the database and the thread pools need some beside the sockets.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ceiling), hard))


def server_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """uvicorn's settings for `app`: the address, and the transport's guards."""
    _room_for(settings.max_connections)
    limits = TransportLimits(
        header_timeout_s=settings.header_timeout_seconds,
        max_header_bytes=settings.max_header_bytes,
        max_connections=settings.max_connections,
    )
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        http=guarded_protocol(limits),
    )


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        config.timeout_graceful_shutdown = drain.grace_s + 5  # type: ignore[assignment]  # uvicorn says int; its asyncio.timeout takes a float
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
