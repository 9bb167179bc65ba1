"""Attacks on the transport, on what the server shows to anyone, and on the files it writes.

Each runs against a real server on loopback and asks: the right 4xx (never a 5xx),
`/healthz` answered at once meanwhile, and the server still answering afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from attacks import HealthWatch, PeakMemory
from conftest import MODEL, Server, metric_samples, start_server, stop_server

HEADER_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 40
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CHAT = "/v1/projects/{project}/locations/us-central1/endpoints/openapi/chat/completions"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A `--no-auth` server with a short header timeout, a low connection cap, per-project
    metrics and one extra Host name."""
    srv = start_server(
        tmp_path_factory.mktemp("guarded"),
        "--no-auth",
        "--parallel", "1",
        "--header-timeout", str(HEADER_TIMEOUT_S),
        "--max-connections", str(MAX_CONNECTIONS),
        "--metrics-detail",
        "--allowed-hosts", "dev.example",
    )  # fmt: skip
    yield srv
    stop_server(srv)


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def read_reply(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes (b"" if it closed silently)."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def envelope(raw: bytes, code: int) -> dict:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % code), head
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]
    return error


def still_answers(server: Server) -> None:
    assert httpx.get(f"{server.url}/v1/models", timeout=10).status_code == 200


# --- transport ---------------------------------------------------------------------------------


def test_slowloris_and_idle_connections_are_closed_after_the_header_timeout(
    guarded: Server,
) -> None:
    port = port_of(guarded)
    with HealthWatch(guarded.url) as watch:
        started = time.monotonic()
        silent = socket.create_connection(("127.0.0.1", port))  # connects, never speaks
        trickling = []
        for _ in range(30):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            trickling.append(sock)
        for _ in range(3):  # a byte at a time, never the end of the headers
            time.sleep(HEADER_TIMEOUT_S / 4)
            for sock in trickling:
                sock.sendall(b"a")
            still_answers(guarded)  # others are served meanwhile
        replies = [read_reply(sock, timeout=5) for sock in trickling]
        assert read_reply(silent, timeout=5) == b""
        closed_after = time.monotonic() - started
    for reply in replies:
        assert envelope(reply, 408)["status"] == "DEADLINE_EXCEEDED"
    assert HEADER_TIMEOUT_S <= closed_after < HEADER_TIMEOUT_S + 2
    watch.assert_responsive()
    still_answers(guarded)


def test_connections_past_the_cap_get_503_and_are_closed(guarded: Server) -> None:
    port = port_of(guarded)
    with HealthWatch(guarded.url) as watch:
        while not watch.polls:  # its connection is open before the flood
            time.sleep(0.01)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS + 10)]
        time.sleep(HEADER_TIMEOUT_S / 2)  # the refused are answered at once; the rest are held
        answered, _, _ = select.select(socks, [], [], 0)
        refused = [read_reply(sock, timeout=1) for sock in answered]
        for sock in socks:
            sock.close()
    assert 10 <= len(refused) <= 11  # the watch holds one connection of the cap
    for reply in refused:
        assert envelope(reply, 503)["status"] == "UNAVAILABLE"
    watch.assert_responsive()
    time.sleep(0.2)
    still_answers(guarded)


def test_oversized_request_headers_get_431(server: Server) -> None:
    pid = server.process.pid
    with HealthWatch(server.url) as watch, PeakMemory(pid) as memory:
        for headers in (
            {"X-Big": "a" * (8 * 1024 * 1024)},  # one huge header: cut off as it streams in
            {f"X-Many-{i}": "a" * 1024 for i in range(100)},  # many small ones: counted
        ):
            started = time.perf_counter()
            reply = httpx.get(f"{server.url}/healthz", headers=headers, timeout=10)
            assert reply.status_code == 431, reply.text
            assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
            assert time.perf_counter() - started < 2
    with socket.create_connection(("127.0.0.1", port_of(server))) as sock:  # httpx won't send it
        sock.sendall(b"GET /healthz?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (b"q" * 70_000))
        envelope(read_reply(sock, timeout=5), 431)
    fair = httpx.get(f"{server.url}/healthz", headers={"X-Fair": "a" * 32_000}, timeout=10)
    assert fair.status_code == 200
    watch.assert_responsive()
    assert memory.grown_mib < 64
    still_answers(server)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_token_requests_are_capped_before_being_read(auth_server: Server) -> None:
    url = f"{auth_server.url}/token"
    port = port_of(auth_server)
    with HealthWatch(auth_server.url) as watch:
        # 16 MiB announced: refused after the headers, with the body never sent.
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: %d\r\n\r\n" % (16 * 1024 * 1024)
            )
            error = envelope(read_reply(sock, timeout=5), 413)
            assert "65536" in error["message"]

        # Chunked, with no length: refused once 64 KiB have come.
        def chunks() -> Iterator[bytes]:
            for _ in range(256):
                yield b"a=1&" * 16_384  # 64 KiB per chunk, 16 MiB in all

        try:
            reply = httpx.post(url, content=chunks(), timeout=10)
            assert reply.status_code == 413
        except httpx.WriteError:
            pass  # the server closed before the upload ended: also refused unread

        fields = httpx.post(url, content=b"a=1&" * 1000, timeout=10)  # 4 KiB, 1000 fields
        assert fields.status_code == 400 and fields.json()["error"] == "invalid_request"

        for header, words in (
            (b"[" * 2000 + b"]" * 2000, "nests deeper"),
            (b'{"alg": "RS256", "kid": ' + b'{"a":' * 1000 + b"1" + b"}" * 1001, "nests deeper"),
            (b'{"alg": "RS256", "x": "' + b"a" * 20_000 + b'"}', "longer than"),
        ):
            assertion = f"{b64(header)}.{b64(b'{}')}.{b64(b'sig')}"
            reply = httpx.post(url, data={"grant_type": JWT_BEARER, "assertion": assertion})
            assert reply.status_code == 400, reply.text
            assert reply.json()["error"] == "invalid_grant"
            assert words in reply.json()["error_description"]
    watch.assert_responsive()
    assert httpx.post(url, data={"grant_type": "x"}).status_code == 400  # still answering


# --- leaks -------------------------------------------------------------------------------------


def chat_as(server: Server, project: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    reply = httpx.post(f"{server.url}{CHAT.format(project=project)}", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    time.sleep(0.2)  # a request is counted just after its reply is sent


def test_metrics_show_project_ids_only_with_metrics_detail(server: Server, guarded: Server) -> None:
    chat_as(server, "secret-project-a")
    shown = httpx.get(f"{server.url}/metrics").text
    assert "secret-project-a" not in shown
    tokens = [s for s in metric_samples(server) if s.name == "openvertex_tokens_total"]
    assert tokens and all("project" not in s.labels for s in tokens)

    chat_as(guarded, "secret-project-b")
    tokens = [s for s in metric_samples(guarded) if s.name == "openvertex_tokens_total"]
    assert {s.labels["project"] for s in tokens} == {"secret-project-b"}


REBINDING_HOSTS = ("evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil")
LOCAL_HOSTS = ("localhost", "LOCALHOST:3000", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080")


def test_without_auth_only_local_host_names_are_served(server: Server) -> None:
    with HealthWatch(server.url) as watch:
        for host in REBINDING_HOSTS:  # what a DNS-rebinding page's requests carry
            reply = httpx.get(f"{server.url}/v1/models", headers={"Host": host}, timeout=10)
            assert reply.status_code == 403, host
            error = reply.json()["error"]
            assert error["status"] == "PERMISSION_DENIED" and "--allowed-hosts" in error["message"]
        for host in LOCAL_HOSTS:
            reply = httpx.get(f"{server.url}/v1/models", headers={"Host": host}, timeout=10)
            assert reply.status_code == 200, host
        while not watch.polls:
            time.sleep(0.01)
    watch.assert_responsive()
    still_answers(server)


def test_allowed_hosts_are_served(guarded: Server) -> None:
    headers = {"Host": "dev.example:8080"}
    assert httpx.get(f"{guarded.url}/v1/models", headers=headers).status_code == 200
    headers = {"Host": "other.example"}
    assert httpx.get(f"{guarded.url}/v1/models", headers=headers).status_code == 403


# --- files -------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_key_files_data_dir_and_database_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    victim = tmp_path / "victim.txt"
    victim.write_text("not a key")
    planted = tmp_path / "planted.json"
    planted.symlink_to(victim)  # a link planted where the key file will go
    stale = tmp_path / "stale.json"
    stale.write_text("{}")
    stale.chmod(0o644)  # an old file whose mode must not survive

    for out in (planted, stale):
        done = subprocess.run(
            [sys.executable, "-m", "openvertex", "keys", "create", "--project", "files-project",
             "--out", str(out), "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        assert not out.is_symlink() and mode(out) == 0o600
        assert json.loads(out.read_text())["type"] == "service_account"
    assert victim.read_text() == "not a key"  # the link was replaced, not written through
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "openvertex.db") == 0o600


def test_the_first_run_key_and_database_of_a_server_are_private(auth_server: Server) -> None:
    assert mode(auth_server.data_dir) == 0o700
    assert mode(auth_server.default_key_file) == 0o600
    for name in os.listdir(auth_server.data_dir):
        if name.startswith("openvertex.db"):  # the database, its WAL and shared memory
            assert mode(auth_server.data_dir / name) == 0o600, name
