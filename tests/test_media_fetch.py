"""The image URL guard and fetcher, against real HTTP(S) servers on loopback.

No test sends a packet anywhere but 127.0.0.1: private and metadata addresses are
refused before any connection, which is what these tests check. Made-up public
hostnames reach the loopback servers only through the `resolve` hook.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from openvertex.media.errors import MediaError
from openvertex.media.fetch import fetch
from openvertex.media.url_guard import is_public, parse_allowlist, permitted

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f80f00000101000518d84e0000000049454e44ae426082"
)
REFUSED = "address not allowed"


@dataclass
class Server:
    """A loopback test server and the paths it was asked for."""

    port: int
    seen: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        state.seen.append(self.path)
        state.hosts.append(self.headers.get("Host", ""))
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        route = getattr(self, "route_" + path.strip("/").replace("-", "_"), self.route_missing)
        # The client may hang up mid-answer, as it should when it gives up.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(params)

    def send(self, status: int, body: bytes, content_type: str | None = "image/png") -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_image(self, params: dict) -> None:
        self.send(200, PNG)

    def route_host(self, params: dict) -> None:
        self.send(200, self.headers.get("Host", "").encode())

    def route_html(self, params: dict) -> None:
        self.send(200, b"<html></html>", "text/html; charset=utf-8")

    def route_untyped(self, params: dict) -> None:
        self.send(200, PNG, content_type=None)

    def route_redirect(self, params: dict) -> None:
        self.send_response(302)
        self.send_header("Location", params["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_loop(self, params: dict) -> None:
        self.send_response(301)
        self.send_header("Location", "/loop")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_declared_huge(self, params: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(30 * 2**20))
        self.end_headers()
        self.wfile.write(PNG)

    def route_endless(self, params: dict) -> None:
        """No length: bytes until the client stops reading (bounded, to end by itself)."""
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.close_connection = True
        for _ in range(2000):
            self.wfile.write(b"\0" * 4096)

    def route_drip(self, params: dict) -> None:
        """A valid start, then one byte every 50 ms: each read is quick, the total is not."""
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.close_connection = True
        for _ in range(100):
            self.wfile.write(b"\0")
            self.wfile.flush()
            time.sleep(0.05)

    def route_drip_headers(self, params: dict) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            self.wfile.write(b"X-Slow: y\r\n")
            self.wfile.flush()
            time.sleep(0.05)

    def route_missing(self, params: dict) -> None:
        self.send(404, b"", "text/plain")


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """A threaded test server on a free loopback port, for the length of a `with`."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state = Server(port=httpd.server_address[1])
    httpd.state = state  # type: ignore[attr-defined]
    if tls is not None:
        tls.sni_callback = lambda sock, name, ctx: state.sni.append(name)
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as state:
        yield state


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any test whose fetch would open a connection beyond loopback."""
    connected: list[str] = []
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        host = address[0]
        assert ipaddress.ip_address(host).is_loopback, f"tried to connect to {host}"
        connected.append(host)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return connected


def resolver(mapping: dict[str, str]):
    """A DNS stand-in: the given names resolve as told, all others fail."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "unknown host")
        return [mapping[host]]

    return resolve


# --- refusals before any connection -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/image",
        "http://[::1]:{port}/image",
        "http://localhost:{port}/image",
        "http://127.1:{port}/image",
        "http://[::ffff:127.0.0.1]:{port}/image",
    ],
)
def test_loopback_is_refused_without_an_allowlist(server: Server, url: str) -> None:
    with pytest.raises(MediaError, match=REFUSED):
        fetch(url.format(port=server.port), timeout=2)
    assert server.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/image.png",
        "http://192.168.1.20/image.png",
        "http://172.16.5.4/image.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/image.png",
        "http://0.0.0.0/image.png",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/image.png",
        "http://224.0.0.1/image.png",
    ],
)
def test_private_and_metadata_addresses_are_refused(url: str, loopback_only: list[str]) -> None:
    with pytest.raises(MediaError) as caught:
        fetch(url, resolve=resolver({}), timeout=2)
    assert str(caught.value) == "image URL refused: address not allowed"
    assert loopback_only == []  # refused before any connection was tried


def test_a_hostname_resolving_to_loopback_is_refused(server: Server) -> None:
    resolve = resolver({"images.example.com": "127.0.0.1"})
    with pytest.raises(MediaError, match=REFUSED):
        fetch(server.url("/image", host="images.example.com"), resolve=resolve)
    assert server.seen == []


def test_metadata_is_refused_even_when_its_network_is_allowlisted() -> None:
    with pytest.raises(MediaError, match=REFUSED):
        fetch("http://169.254.169.254/", allow=["169.254.0.0/16"], timeout=2)
    resolve = resolver({"metadata.google.internal": "169.254.169.254"})
    with pytest.raises(MediaError, match=REFUSED):
        fetch(
            "http://metadata.google.internal/",
            allow=["metadata.google.internal"],
            resolve=resolve,
            timeout=2,
        )


@pytest.mark.parametrize("url", ["gs://bucket/cat.png", "ftp://example.com/cat.png", "file:///x"])
def test_other_schemes_are_refused_naming_the_supported_ones(url: str) -> None:
    with pytest.raises(MediaError, match="supported schemes: data:, http:, https:"):
        fetch(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:secret@example.com/a.png", "credentials"),
        ("http:///a.png", "no host"),
        ("http://example.com:99999/a.png", "invalid image URL"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        fetch(url, resolve=resolver({}))


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(MediaError, match="could not resolve"):
        fetch("http://no-such-host.example/a.png", resolve=resolver({}))


# --- allowlisted loopback ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allow"),
    [
        ("127.0.0.1", ["127.0.0.1"]),
        ("127.0.0.1", ["127.0.0.0/8"]),
        ("127.0.0.1", ["127.0.0.1:{port}"]),
        ("localhost", ["localhost"]),
        ("localhost", ["localhost:{port}"]),
    ],
)
def test_an_allowlisted_loopback_server_is_fetched(
    server: Server, host: str, allow: list[str]
) -> None:
    rules = [entry.format(port=server.port) for entry in allow]
    body, content_type = fetch(server.url("/image", host=host), allow=rules)
    assert (body, content_type) == (PNG, "image/png")


def test_an_allowlist_entry_with_another_port_does_not_match(server: Server) -> None:
    with pytest.raises(MediaError, match=REFUSED):
        fetch(server.url("/image"), allow=[f"127.0.0.1:{server.port + 1}"])
    assert server.seen == []


def test_the_checked_address_is_used_with_the_original_host_header(server: Server) -> None:
    resolve = resolver({"images.example.com": "127.0.0.1"})
    body, _ = fetch(
        server.url("/host", host="images.example.com"),
        allow=["images.example.com"],
        resolve=resolve,
    )
    assert body == f"images.example.com:{server.port}".encode()


def test_dns_is_asked_once_per_hop_and_its_answer_is_what_gets_connected() -> None:
    # A rebinding resolver: first a loopback answer that is allowed, then 10.0.0.1.
    # The fetch must connect to the address it checked, never ask again.
    answers = iter(["127.0.0.1", "10.0.0.1"])
    calls = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return [next(answers)]

    with serving() as state:
        body, _ = fetch(
            state.url("/image", host="cdn.example.net"), allow=["127.0.0.1"], resolve=rebinding
        )
        assert body == PNG
        assert calls == ["cdn.example.net"]


# --- redirects ------------------------------------------------------------------------


def test_redirects_are_followed_when_every_hop_is_allowed(server: Server) -> None:
    target = server.url("/image")
    body, _ = fetch(server.url(f"/redirect?to={target}"), allow=["127.0.0.1"])
    assert body == PNG
    assert server.seen == [f"/redirect?to={target}", "/image"]


def test_relative_redirects_are_resolved_against_the_url(server: Server) -> None:
    body, _ = fetch(server.url("/redirect?to=/image"), allow=["127.0.0.1"])
    assert body == PNG


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/image",  # loopback, but only the public name is allowed
        "http://10.0.0.1/image.png",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::1]:{port}/image",
    ],
)
def test_a_public_name_redirecting_to_a_refused_address_is_stopped(
    server: Server, target: str
) -> None:
    resolve = resolver({"images.example.com": "127.0.0.1"})
    location = urllib.parse.quote(target.format(port=server.port))
    with pytest.raises(MediaError, match=REFUSED):
        fetch(
            server.url(f"/redirect?to={location}", host="images.example.com"),
            allow=["images.example.com"],
            resolve=resolve,
        )
    assert len(server.seen) == 1  # the redirect itself, and nothing after it


def test_a_redirect_to_another_scheme_is_refused(server: Server) -> None:
    with pytest.raises(MediaError, match="supported schemes"):
        fetch(server.url("/redirect?to=gs://bucket/x.png"), allow=["127.0.0.1"])


def test_redirect_loops_stop_after_five_hops(server: Server) -> None:
    with pytest.raises(MediaError, match="redirected more than 5 times"):
        fetch(server.url("/loop"), allow=["127.0.0.1"])
    assert len(server.seen) == 6


# --- what comes back --------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_before_reading() -> None:
    with serving() as state, pytest.raises(MediaError, match="larger than 20 MiB"):
        fetch(state.url("/declared-huge"), allow=["127.0.0.1"])


def test_an_endless_body_is_cut_at_the_cap(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match="larger than 100000 bytes"):
        fetch(server.url("/endless"), allow=["127.0.0.1"], max_bytes=100_000)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"])
def test_a_slow_drip_is_cut_at_the_overall_timeout(server: Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"took longer than 0\.5 s"):
        fetch(server.url(path), allow=["127.0.0.1"], timeout=0.5)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(("path", "shown"), [("/html", "text/html"), ("/untyped", "none")])
def test_a_non_image_content_type_is_refused(server: Server, path: str, shown: str) -> None:
    with pytest.raises(MediaError, match=f"did not return an image \\(content type {shown}\\)"):
        fetch(server.url(path), allow=["127.0.0.1"])


def test_an_error_status_is_refused(server: Server) -> None:
    with pytest.raises(MediaError, match="answered HTTP 404"):
        fetch(server.url("/nothing-here"), allow=["127.0.0.1"])


def test_a_closed_port_is_a_plain_fetch_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MediaError, match="could not fetch the image URL"):
        fetch(f"http://127.0.0.1:{port}/x.png", allow=["127.0.0.1"])


# --- HTTPS: SNI and certificate checks use the URL's name, not the address --------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "images.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("images.example.test")]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with serving(tls=context) as state:
        yield state


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_https_to_a_pinned_address_checks_the_url_name(
    https_server: Server, certificate: tuple[Path, Path]
) -> None:
    resolve = resolver({"images.example.test": "127.0.0.1"})
    body, _ = fetch(
        https_server.url("/host", host="images.example.test", scheme="https"),
        allow=["images.example.test"],
        resolve=resolve,
        tls=trusting(certificate),
    )
    assert body == f"images.example.test:{https_server.port}".encode()
    assert https_server.sni == ["images.example.test"]


def test_https_refuses_a_certificate_for_another_name(
    https_server: Server, certificate: tuple[Path, Path]
) -> None:
    resolve = resolver({"other.example.test": "127.0.0.1"})
    with pytest.raises(MediaError, match="certificate could not be verified"):
        fetch(
            https_server.url("/image", host="other.example.test", scheme="https"),
            allow=["other.example.test"],
            resolve=resolve,
            tls=trusting(certificate),
        )


def test_https_refuses_an_untrusted_certificate(https_server: Server) -> None:
    resolve = resolver({"images.example.test": "127.0.0.1"})
    with pytest.raises(MediaError, match="certificate could not be verified"):
        fetch(
            https_server.url("/image", host="images.example.test", scheme="https"),
            allow=["images.example.test"],
            resolve=resolve,
        )


# --- the address rules themselves -------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("224.0.0.251", False),
        ("233.252.0.1", False),  # multicast that Python calls global
        ("198.18.0.1", False),
        ("::", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("fd00:ec2::254", False),
        ("fe80::1", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_allowlist_rules() -> None:
    rules = parse_allowlist(["images.internal", "localhost:8080", "10.0.0.0/8", "[::1]:9000"])
    ip = ipaddress.ip_address
    assert permitted("images.internal", ip("10.9.9.9"), 443, rules)
    assert permitted("localhost", ip("127.0.0.1"), 8080, rules)
    assert not permitted("localhost", ip("127.0.0.1"), 8081, rules)
    assert permitted("anything", ip("10.1.1.1"), 80, rules)
    assert permitted("anything", ip("::1"), 9000, rules)
    assert not permitted("anything", ip("::1"), 9001, rules)
    assert not permitted("anything", ip("192.168.1.1"), 80, rules)
    assert permitted("anything", ip("93.184.216.34"), 80, ())


@pytest.mark.parametrize("entry", ["not a host", "[::1", "[::1]x", "host:0", "1.2.3.4:70000", ""])
def test_malformed_allowlist_entries_are_config_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="allowlist entry"):
        parse_allowlist([entry])
