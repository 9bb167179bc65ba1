"""Each llama.cpp model runs in a runner process of its own.

A model loading never holds up the rest of the server; a runner that dies is started
again by the next request; weights that cannot load give a clear 503 and the server
goes on; no runner outlives the server; and the cores follow the work: a model busy
alone computes with every core, two busy models share them.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from attacks import HealthWatch
from conftest import Server, start_server, stop_server

from openvertex.engines.llamacpp.residency import Residency, Resident
from openvertex.engines.llamacpp.runner import Runner

NAMES = ["google/gemini-2.0-flash-lite", "google/gemini-2.0-flash"]
# Two tables on the same small weights: two runners, each loaded on its first request.
TWO_MODELS = f"""
preload = false

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


def test_the_models_computing_share_the_cores():
    residency = Residency(1 << 30, None, cores=8)

    async def learn(runner: Runner) -> None:
        pass

    a, b, c = (Resident(Runner(n, dict, None), 0, residency, learn) for n in "abc")
    pinned = Resident(Runner("pinned", dict, 3), 0, residency, learn)

    def threads() -> list[int]:
        return [r.runner.threads for r in (a, b, c, pinned)]

    residency.computing(a, +1)
    assert threads()[0] == 8  # busy alone: every core
    residency.computing(a, +1)  # a second request changes nothing
    residency.computing(b, +1)
    assert threads()[:2] == [4, 4]
    residency.computing(c, +1)
    assert sorted(threads()[:3]) == [2, 3, 3]
    residency.computing(pinned, +1)
    assert threads()[3] == 3  # set by the operator: kept
    for resident in (pinned, c, b):
        residency.computing(resident, -1)
    residency.computing(a, -1)
    assert threads()[0] == 8  # still one request open
    residency.computing(b, +1)
    assert threads()[:2] == [4, 4]


def _computing_threads(runner: psutil.Process, seconds: float = 1.0) -> int:
    """How many of the runner's threads computed over `seconds`: those that took at least
    a third of the busiest one's CPU time."""
    before = {t.id: t.user_time + t.system_time for t in runner.threads()}
    time.sleep(seconds)
    used = [t.user_time + t.system_time - before.get(t.id, 0.0) for t in runner.threads()]
    return sum(1 for u in used if u >= max(used) / 3 and u > 0.05)


def _count_on(server: Server, model: str, until: threading.Event) -> None:
    """A long streamed continuation, read until `until` is set."""
    body = {"model": model, "prompt": "1, 2, 3, 4, 5,", "max_tokens": 2000, "stream": True}
    body["temperature"] = 0
    with httpx.stream("POST", f"{server.url}/v1/completions", json=body, timeout=120) as reply:
        assert reply.status_code == 200
        for _ in reply.iter_lines():
            if until.is_set():
                return


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core has nothing to share")
def test_a_model_busy_alone_computes_with_every_core(two_models):
    for name in NAMES:  # both loaded
        assert _chat(two_models, name).status_code == 200
    runners = sorted(_runners(two_models), key=lambda p: p.create_time())
    assert len(runners) == 2
    cores = len(os.sched_getaffinity(0))
    done = threading.Event()
    first, second = (
        threading.Thread(target=_count_on, args=(two_models, name, done)) for name in NAMES
    )
    try:
        first.start()
        time.sleep(0.5)  # its prompt read, decoding
        alone = [_computing_threads(r) for r in runners]
        second.start()
        time.sleep(0.5)
        both = [_computing_threads(r) for r in runners]
    finally:
        done.set()
        for thread in (first, second):
            if thread.is_alive():
                thread.join(timeout=60)
    assert alone == [cores, 0], alone  # the other model is loaded, and idle
    assert both == [cores // 2, cores // 2], both


def test_speculative_types_are_xllamacpp_s():
    import xllamacpp

    from openvertex.engines.llamacpp.engine import SPECULATIVE_TYPES

    kinds = xllamacpp.common_speculative_type
    assert {
        "none": int(kinds.COMMON_SPECULATIVE_TYPE_NONE),
        "ngram-simple": int(kinds.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE),
        "ngram-mod": int(kinds.COMMON_SPECULATIVE_TYPE_NGRAM_MOD),
    } == SPECULATIVE_TYPES


def test_n_gram_drafts_when_asked(tmp_path: Path):
    """`speculative = "ngram-mod"`: llama.cpp drafts from n-grams it has seen and checks
    each draft in one batch; the reply is the model's own, schema and all."""
    srv = start_server(tmp_path, "--no-auth", "--parallel", "1", "--speculative", "ngram-mod")
    try:
        card = httpx.get(f"{srv.url}/v1/models/gemini-2.0-flash", timeout=10).json()
        assert card["openvertex"]["speculative"] == "ngram-mod"
        schema = {
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"type": "string"}, "minItems": 8}},
            "required": ["items"],
        }
        body = {
            "model": NAMES[1],
            "messages": [{"role": "user", "content": "List eight fruits."}],
            "max_tokens": 200,
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "L", "schema": schema},
            },
        }
        for _ in range(2):  # the second reply drafts from the first's n-grams
            reply = httpx.post(f"{srv.url}/v1/chat/completions", json=body, timeout=120)
            assert reply.status_code == 200, reply.text
            assert len(json.loads(reply.json()["choices"][0]["message"]["content"])["items"]) >= 8
    finally:
        stop_server(srv)
