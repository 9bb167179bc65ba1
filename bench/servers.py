"""Start each server under test as a subprocess and always stop it again.

Each is a context manager that yields the chat completions URL once the model
is loaded, and kills the process on the way out, even on error or Ctrl-C.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _shared_flags(threads: int, parallel: int, context: int) -> list[str]:
    """The flags both servers take, so they always run with the same settings."""
    return ["--parallel", str(parallel), "--threads", str(threads), "--context", str(context)]


@contextmanager
def process(cmd: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `ready()` until it is true; fail early if the process dies."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited early:\n{log.read_text()[-3000:]}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.args} not ready in {START_TIMEOUT_S} s; see {log}")


def _google_auth_headers(key_file: Path) -> dict[str, str]:
    """An access token from openvertex's token endpoint, got as Vertex's examples get it."""
    import google.auth.transport.requests
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_file(
        key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    credentials.refresh(google.auth.transport.requests.Request())
    return {"Authorization": f"Bearer {credentials.token}"}


@contextmanager
def openvertex_server(
    work: Path, *flags: str, one_model: bool = True
) -> Iterator[tuple[str, Path, int]]:
    """`python -m openvertex serve FLAGS` with auth on, ready when GET /readyz answers 200;
    yields its base URL, data dir and pid. `one_model`: the embedded model under every
    name, as llama.cpp serves it, unless FLAGS name a model; else the default install."""
    port = free_port()
    data = work / "openvertex-data"
    if one_model and "--model" not in flags and "--config" not in flags:
        flags = ("--model", "smollm2-135m", *flags)
    cmd = [
        sys.executable, "-m", "openvertex", "serve", "--port", str(port), *flags,
        "--data-dir", str(data),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    log = work / "openvertex.log"
    # A fresh data dir: the first-run key file's token_uri names this run's port.
    shutil.rmtree(data, ignore_errors=True)
    with process(cmd, log) as proc:
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, proc, log)
        yield base, data, proc.pid


@dataclass(frozen=True)
class Served:
    """A server under test: its chat completions URL, the headers every request carries,
    and, for openvertex, its native streaming URL for a model and its process id."""

    url: str
    headers: dict[str, str]
    native: str = ""  # `:streamGenerateContent?alt=sse`, with `{model}` to fill in
    pid: int | None = None


@contextmanager
def openvertex_flags(work: Path, *flags: str, one_model: bool = True) -> Iterator[Served]:
    """openvertex started with FLAGS, as `openvertex_server` starts it."""
    with openvertex_server(work, *flags, one_model=one_model) as (base, data, pid):
        headers = _google_auth_headers(data / "openvertex-local-key.json")
        vertex = f"{base}/v1/projects/openvertex-local/locations/us-central1"
        native = f"{vertex}/publishers/google/models/{{model}}:streamGenerateContent?alt=sse"
        yield Served(f"{vertex}/endpoints/openapi/chat/completions", headers, native, pid)


@contextmanager
def openvertex(
    threads: int, parallel: int, context: int, work: Path, *, one_model: bool = True
) -> Iterator[Served]:
    """openvertex driven through the Vertex-style path with a real access token, as a
    user's requests would be: serving the embedded model alone, or (`one_model=False`) the
    default install (every installed tier, each preloaded, and the embedding model). The
    cores follow the work (no `--threads`); no n-gram drafts, which would learn the bench's
    repeated prompt."""
    flags = ("--parallel", str(parallel), "--context", str(context), "--speculative", "none")
    with openvertex_flags(work, *flags, one_model=one_model) as served:
        yield served


@contextmanager
def llama_reference(
    threads: int, parallel: int, context: int, work: Path, model: str | None = None
) -> Iterator[Served]:
    """bench/llama_server.py (llama.cpp's server), ready when GET /health answers 200."""
    cmd = [
        sys.executable, str(HERE / "llama_server.py"), "--port", str(free_port()),
        *_shared_flags(threads, parallel, context), *(("--model", model) if model else ()),
    ]  # fmt: skip
    log = work / "llama-server.log"
    with process(cmd, log) as proc:
        base = ""

        def ready() -> bool:
            nonlocal base
            if not base:  # it prints its listening address once the model is loaded
                lines = [ln for ln in log.read_text().splitlines() if ln.startswith("http://")]
                base = lines[0].strip() if lines else ""
            return bool(base) and httpx.get(f"{base}/health", timeout=2).status_code == 200

        wait_until(ready, proc, log)
        yield Served(f"{base}/v1/chat/completions", {})
