"""Without auth, serve only requests addressed to this machine by a name it knows.

A web page can point its own DNS name at 127.0.0.1 (DNS rebinding) and then drive a
developer's `--no-auth` server from the browser, which still sends the page's name as
`Host`. With auth on, such a page has no credential to send; with auth off, the Host
is what is left to check. A request without a Host (HTTP/1.0) comes from no browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from openvertex.config import Settings
from openvertex.errors import error_body

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY = "*"


def host_name(host: str) -> str:
    """`Host` without its port or IPv6 brackets, lowercased: `[::1]:8080` → `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") > 1:  # a bare IPv6 address, as in settings
        return host
    name, colon, port = host.rpartition(":")
    return (name if colon and port.isdigit() else host).rstrip(".")


def served_hosts(settings: Settings) -> frozenset[str]:
    """Loopback's names, the bound address, the public URL's host and `allowed_hosts`."""
    names = [*LOOPBACK_NAMES, settings.host, *settings.allowed_hosts]
    if settings.public_url:
        names.append(urlsplit(settings.public_url).netloc)
    return frozenset(name if name == ANY else host_name(name) for name in names)


class HostCheck:
    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or ANY in self.allowed:
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host")
        if host is None or host_name(host.decode("latin-1")) in self.allowed:
            await self.app(scope, receive, send)
            return
        message = (
            f"Host {host.decode('latin-1')[:100]!r} is not served: without auth, only "
            "localhost and the bound address are (add names with --allowed-hosts)."
        )
        await JSONResponse(error_body(403, message), status_code=403)(scope, receive, send)
