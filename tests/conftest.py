"""One real openvertex server on a free loopback port, shared by the whole session.

Tests talk to it with the real `openai` SDK over HTTP, over the real embedded
model; nothing is mocked.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from services import PostgresServer, RedisServer, free_port, running_postgres, running_redis

PROJECT, LOCATION = "test-project", "us-central1"
MODEL = "google/gemini-2.0-flash-001"


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    data_dir: Path

    @property
    def default_key_file(self) -> Path:
        return self.data_dir / "openvertex-local-key.json"

    @property
    def vertex_base(self) -> str:
        return f"{self.url}/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi"


def start_server(
    tmp: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Server:
    """Start `openvertex serve` and wait until /readyz says the model is loaded."""
    port = port or free_port()
    log = tmp / f"server-{port}.log"
    if "--model" not in args:  # the fast tier under every name ([[models]] tables win)
        args = ("--model", "smollm2-135m", *args)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openvertex",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "data"),
            *args,
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, process, log, tmp / "data")
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server not ready in 60 s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server without authentication, for the tests of the API itself."""
    srv = start_server(tmp_path_factory.mktemp("server"), "--parallel", "4", "--no-auth")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with authentication on, as `openvertex serve` starts by default.

    On first start it wrote a key file for project `openvertex-local` into its data dir.
    """
    srv = start_server(tmp_path_factory.mktemp("auth-server"), "--parallel", "2")
    yield srv
    stop_server(srv)


QWEN_MODELS = """
[[models]]
names = ["google/gemini-2.0-flash", "google/gemini-2.5-flash"]
model = "qwen2.5-coder-0.5b"
parallel = 2

[[models]]
names = ["google/gemini-2.0-flash-lite"]
"""


@pytest.fixture(scope="session")
def qwen_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Two models in one server, auth on: the Qwen tier (Qwen2.5-Coder-0.5B) answers to
    `gemini-2.0-flash` and `gemini-2.5-flash`, the embedded SmolLM2 to `gemini-2.0-flash-lite`."""
    tmp = tmp_path_factory.mktemp("qwen")
    config = tmp / "models.toml"
    config.write_text(QWEN_MODELS)
    srv = start_server(tmp, "--config", str(config))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def client(server: Server) -> openai.OpenAI:
    """The SDK pointed at the Vertex-style URL, as Vertex's documentation examples build it."""
    return openai.OpenAI(base_url=server.vertex_base, api_key="any", max_retries=0, timeout=300)


@pytest.fixture(scope="session")
def plain_client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="any", max_retries=0, timeout=300)


@pytest.fixture
def aclient(server: Server) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.vertex_base, api_key="any", max_retries=0, timeout=300
    )


def ledger(server: Server) -> list[sqlite3.Row]:
    """The usage ledger's rows, read as any other reader of the state database would."""
    with sqlite3.connect(server.data_dir / "openvertex.db") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM usage ORDER BY at").fetchall()


def ledger_row(server: Server, request_id: str, timeout: float = 10) -> sqlite3.Row:
    """A request's ledger row, once the ledger thread has written it (just after the reply)."""
    deadline = time.monotonic() + timeout
    while not (rows := [r for r in ledger(server) if r["request_id"] == request_id]):
        assert time.monotonic() < deadline, f"no ledger row for {request_id}"
        time.sleep(0.05)
    [row] = rows
    return row


def openvertex_cli(server: Server, *args: str) -> str:
    """Run an `openvertex` command against the server's data dir; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "openvertex", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def metric_samples(server: Server) -> list:
    """Every sample `/metrics` shows now, parsed as Prometheus would."""
    from prometheus_client.parser import text_string_to_metric_families

    reply = httpx.get(f"{server.url}/metrics", timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(reply.text) for s in family.samples]


def metric_value(samples: list, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path) as redis:
        yield redis


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as postgres:
        yield postgres
