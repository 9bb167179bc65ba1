"""Each llama.cpp model runs in a runner process of its own.

A model loading never holds up the rest of the server; a runner that dies is started
again by the next request; weights that cannot load give a clear 503 and the server
goes on; and no runner outlives the server.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest
from attacks import HealthWatch
from conftest import Server, start_server, stop_server

NAMES = ["google/gemini-2.0-flash-lite", "google/gemini-2.0-flash"]
# Two tables on the same small weights: two runners, each loaded on its first request.
TWO_MODELS = f"""
[[models]]
names = ["{NAMES[0]}"]
model = "smollm2-135m"
parallel = 1

[[models]]
names = ["{NAMES[1]}"]
model = "smollm2-135m"
parallel = 1
"""


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> Server:
    tmp = tmp_path_factory.mktemp("runners")
    config = tmp / "models.toml"
    config.write_text(TWO_MODELS)
    srv = start_server(tmp, "--config", str(config), "--no-auth")
    yield srv
    stop_server(srv)


def _chat(server: Server, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=120)


def _runners(server: Server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children()


def test_a_model_loads_while_the_server_answers(two_models):
    assert _chat(two_models, NAMES[0]).status_code == 200
    assert len(_runners(two_models)) == 1
    with HealthWatch(two_models.url, every_s=0.005) as watch:
        assert _chat(two_models, NAMES[1]).status_code == 200  # its first use: a load
    watch.assert_responsive()
    assert len(_runners(two_models)) == 2
    assert "loading smollm2-135m" in two_models.log.read_text()


def test_a_runner_that_dies_is_started_again(two_models):
    assert _chat(two_models, NAMES[0]).status_code == 200
    before = {p.pid for p in _runners(two_models)}
    for runner in _runners(two_models):
        runner.kill()
    psutil.wait_procs([psutil.Process(pid) for pid in before if psutil.pid_exists(pid)], 10)
    time.sleep(0.2)  # the server reaps them
    reply = _chat(two_models, NAMES[0])
    assert reply.status_code == 200, reply.text
    assert not before & {p.pid for p in _runners(two_models)}
    assert httpx.get(f"{two_models.url}/healthz").status_code == 200


def test_weights_that_cannot_load_give_503_and_the_server_goes_on(tmp_path: Path):
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + os.urandom(4096))
    srv = start_server(tmp_path, "--model", str(damaged), "--no-auth")
    try:
        reply = _chat(srv, NAMES[0])
        assert reply.status_code == 503, reply.text
        assert "cannot load" in reply.json()["error"]["message"]
        assert _runners(srv) == []
        assert httpx.get(f"{srv.url}/healthz").status_code == 200
        assert _chat(srv, NAMES[0]).status_code == 503  # tried again, refused again
    finally:
        stop_server(srv)


def test_no_runner_outlives_the_server(tmp_path: Path):
    srv = start_server(tmp_path, "--no-auth")
    assert _chat(srv, NAMES[0]).status_code == 200
    (runner,) = _runners(srv)
    os.kill(srv.process.pid, signal.SIGKILL)  # no shutdown at all: its pipes close
    srv.process.wait()
    runner.wait(timeout=10)
