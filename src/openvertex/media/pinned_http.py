"""HTTP(S) connections to an address chosen in advance, with a whole-request deadline.

http.client would resolve the URL's host again when connecting; these connect to the
address the URL guard approved, yet send the URL's host in the Host header and use it
for TLS SNI and certificate checking, as a client that resolved it itself would.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time


class Watchdog:
    """Shuts a socket down when the deadline passes, cutting any read in progress.

    Socket timeouts bound each read, but a server dripping one byte per second never
    trips them; this bounds the sum.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._timer: threading.Timer | None = None
        self._handle: socket.socket | None = None

    def arm(self, sock: socket.socket) -> None:
        self.disarm()
        # A duplicate descriptor: shutting it down ends the shared connection, and it
        # stays usable after the original socket object is wrapped in TLS.
        self._handle = sock.dup()
        self._timer = threading.Timer(max(self.deadline - time.monotonic(), 0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        handle = self._handle
        if handle is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to cut
                handle.shutdown(socket.SHUT_RDWR)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to `address`; the Host header still names `host`."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, watchdog: Watchdog
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.watchdog = watchdog

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.watchdog.arm(self.sock)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address`; SNI, the certificate check and Host all use `host`."""

    def __init__(
        self,
        host: str,
        port: int,
        address: str,
        timeout: float,
        watchdog: Watchdog,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.ssl_context = context
        self.address = address
        self.watchdog = watchdog

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.watchdog.arm(sock)
        self.sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def pinned_connection(
    scheme: str,
    host: str,
    port: int,
    address: str,
    *,
    timeout: float,
    watchdog: Watchdog,
    context: ssl.SSLContext,
) -> http.client.HTTPConnection:
    """An unconnected connection of the right kind for `scheme`."""
    if scheme == "https":
        return PinnedHTTPSConnection(host, port, address, timeout, watchdog, context)
    return PinnedHTTPConnection(host, port, address, timeout, watchdog)
