"""Fetch an image over HTTP(S) without letting a URL reach what it should not.

Every hop (the URL and each redirect) is parsed, its host resolved, and each address
checked by `url_guard` before anything is sent. The connection then goes to exactly
the address that was checked, while the Host header and TLS SNI/certificate check use
the URL's own hostname, so DNS cannot answer differently between check and connect.
Size is capped as the body arrives, and one deadline covers the whole fetch: a timer
shuts the socket down when it passes, so no trickle of slow reads can outlive it.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from openvertex.media.errors import MediaError, unsupported_scheme
from openvertex.media.pinned_http import Watchdog, pinned_connection
from openvertex.media.url_guard import REFUSED, AllowEntry, IPAddress, parse_allowlist, permitted

MAX_REDIRECTS = 5
MAX_BYTES = 20 * 2**20
_REDIRECTS = {301, 302, 303, 307, 308}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CHUNK = 64 * 1024
_HEADERS = {
    "User-Agent": "openvertex-image-fetch/1",
    "Accept": "image/*",
    "Accept-Encoding": "identity",  # we never inflate: the byte cap is the size cap
    "Connection": "close",
}

Resolver = Callable[[str, int], Sequence[str]]
_resolvers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="ov-dns")


def resolve_host(host: str, port: int) -> list[str]:
    """The host's addresses, in the system resolver's order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def fetch(
    url: str,
    *,
    allow: Sequence[str] = (),
    max_bytes: int = MAX_BYTES,
    timeout: float = 10.0,
    resolve: Resolver = resolve_host,
    tls: ssl.SSLContext | None = None,
) -> tuple[bytes, str]:
    """GET an image: (body, content type such as "image/png"), or MediaError.

    `allow` holds allowlist entries as described in `url_guard`; `resolve` maps a
    hostname and port to addresses (tests pass their own); `tls` replaces the default
    certificate-verifying context (e.g. for a private CA).
    """
    rules = parse_allowlist(allow)
    deadline = time.monotonic() + timeout
    context = tls or ssl.create_default_context()
    for _hop in range(MAX_REDIRECTS + 1):
        target = _Target.parse(url)
        addresses = _permitted_addresses(target, rules, resolve, deadline, timeout)
        with _Exchange(target, addresses, deadline, timeout, context) as exchange:
            response = exchange.response
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise MediaError(f"image URL redirected (HTTP {response.status}) to nowhere")
                url = urllib.parse.urljoin(url, location.strip())
                continue
            if response.status != 200:
                raise MediaError(f"image URL answered HTTP {response.status}")
            content_type = _image_content_type(response)
            return exchange.read_body(max_bytes), content_type
    raise MediaError(f"image URL redirected more than {MAX_REDIRECTS} times")


@dataclass(frozen=True)
class _Target:
    """One hop's URL, taken apart: what to connect to and what to ask for."""

    scheme: str
    host: str  # ASCII (IDNA), lower case, no brackets or trailing dot
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> _Target:
        try:
            parts = urllib.parse.urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise MediaError("invalid image URL") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise unsupported_scheme(scheme)
        if parts.username is not None or parts.password is not None:
            raise MediaError("image URLs with user credentials are not supported")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise MediaError("image URL has no host")
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise MediaError("image URL has an invalid host name") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(scheme, host, port or _DEFAULT_PORTS[scheme], path)

    def literal_address(self) -> IPAddress | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def _permitted_addresses(
    target: _Target,
    rules: Sequence[AllowEntry],
    resolve: Resolver,
    deadline: float,
    timeout: float,
) -> list[IPAddress]:
    """The target's addresses that the guard lets us connect to; MediaError if none."""
    literal = target.literal_address()
    if literal is not None:
        candidates = [literal]
    else:
        future = _resolvers.submit(resolve, target.host, target.port)
        try:
            names = future.result(timeout=max(deadline - time.monotonic(), 0))
        except concurrent.futures.TimeoutError:
            raise _timed_out(timeout) from None
        except OSError:
            raise MediaError("could not resolve the image URL's host") from None
        candidates = [a for a in map(_address, names) if a is not None]
    allowed = [a for a in candidates if permitted(target.host, a, target.port, rules)]
    if not allowed:
        raise MediaError(REFUSED)
    return allowed


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class _Exchange:
    """One GET to the first checked address that answers, under the fetch's deadline."""

    def __init__(
        self,
        target: _Target,
        addresses: Sequence[IPAddress],
        deadline: float,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        self._target = target
        self._addresses = addresses
        self._timeout = timeout
        self._context = context
        self._watchdog = Watchdog(deadline)
        self._connection: http.client.HTTPConnection | None = None
        self.response: http.client.HTTPResponse

    def __enter__(self) -> _Exchange:
        try:
            self._connection = self._connect()
            self._connection.request("GET", self._target.path, headers=_HEADERS)
            self.response = self._connection.getresponse()
            if self._watchdog.fired:  # headers cut at the deadline can look complete
                raise TimeoutError
        except Exception as exc:
            self.__exit__()
            raise self._translate(exc) from None
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self._watchdog.disarm()
        if self._connection is not None:
            self._connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        error: Exception = TimeoutError()
        for address in self._addresses:
            remaining = self._watchdog.deadline - time.monotonic()
            if remaining <= 0:
                break
            connection = pinned_connection(
                self._target.scheme,
                self._target.host,
                self._target.port,
                str(address),
                timeout=remaining,
                watchdog=self._watchdog,
                context=self._context,
            )
            try:
                connection.connect()
                return connection
            except ssl.SSLError:
                connection.close()
                raise  # the host answered: another of its addresses would not help
            except OSError as exc:
                connection.close()
                error = exc
        raise error

    def read_body(self, max_bytes: int) -> bytes:
        """The body, refused once it passes max_bytes or the deadline."""
        length = self.response.getheader("Content-Length") or ""
        if length.strip().isdigit() and int(length) > max_bytes:
            raise _too_large(max_bytes)
        chunks: list[bytes] = []
        total = 0
        try:
            while chunk := self.response.read(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise _too_large(max_bytes)
                chunks.append(chunk)
        except Exception as exc:
            raise self._translate(exc) from None
        if self._watchdog.fired:  # a body cut at the deadline can look complete
            raise _timed_out(self._timeout)
        return b"".join(chunks)

    def _translate(self, exc: Exception) -> Exception:
        """A client-safe MediaError for what went wrong, without internal details."""
        if isinstance(exc, MediaError):
            return exc
        if self._watchdog.fired or isinstance(exc, TimeoutError):
            return _timed_out(self._timeout)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return MediaError("the image host's TLS certificate could not be verified")
        if isinstance(exc, http.client.InvalidURL):
            return MediaError("invalid image URL")
        if isinstance(exc, OSError | http.client.HTTPException):
            return MediaError("could not fetch the image URL")
        return exc


def _image_content_type(response: http.client.HTTPResponse) -> str:
    raw = response.getheader("Content-Type") or ""
    content_type = raw.split(";", 1)[0].strip().lower()
    if not content_type.startswith("image/"):
        shown = content_type[:40] or "none"
        raise MediaError(f"image URL did not return an image (content type {shown})")
    return content_type


def _too_large(max_bytes: int) -> MediaError:
    size = f"{max_bytes / 2**20:g} MiB" if max_bytes % 2**20 == 0 else f"{max_bytes} bytes"
    return MediaError(f"image at URL is larger than {size}")


def _timed_out(timeout: float) -> MediaError:
    return MediaError(f"fetching the image URL took longer than {timeout:g} s")
