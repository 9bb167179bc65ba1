"""Many clients at once, with bad requests mixed in, then a kill -9 in the middle of load.

Every request must get a well-formed answer or a 429, never a 5xx or a hang; the
ledger must hold exactly one record per answered request, and survive kill -9.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import statistics
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import MODEL, Server, ledger, openvertex_cli, start_server, stop_server
from openai.types.chat import ChatCompletion, ChatCompletionChunk

REQUESTS, CLIENTS = 200, 32
PARALLEL, QUEUE = 4, 8  # 12 requests in the server at most; the rest are refused fast
RSS_BOUND_MB = 1536
CHAT = "/v1/projects/load-test/locations/us-central1/endpoints/openapi/chat/completions"


def _request(rng: random.Random) -> tuple[str, dict | str]:
    """A request of a random kind: most valid, some streamed, some wrong."""
    messages = [{"role": "user", "content": rng.choice(["Hi", "Name a colour.", "Count to 3."])}]
    valid = {"model": MODEL, "messages": messages, "max_tokens": rng.randint(4, 24)}
    kind = rng.choices(["json", "stream", "bad_json", "bad_field", "bad_model"], [6, 3, 1, 1, 1])[0]
    if kind == "stream":
        return kind, valid | {"stream": True, "stream_options": {"include_usage": True}}
    if kind == "bad_json":
        return kind, '{"model": "' + MODEL + '", "messages": ['
    if kind == "bad_field":
        return kind, valid | {"temperature": rng.choice([-1, 3, "hot"])}
    if kind == "bad_model":
        return kind, valid | {"model": "no-such-model"}
    return kind, valid


async def _send(client: httpx.AsyncClient, kind: str, body: dict | str) -> dict:
    """One request; what came back, checked to be well formed."""
    started = time.perf_counter()
    content = body if isinstance(body, str) else json.dumps(body)
    async with client.stream("POST", CHAT, content=content) as reply:
        raw = await reply.aread()
    seconds = time.perf_counter() - started
    status, request_id = reply.status_code, reply.headers["x-request-id"]
    if status == 200 and kind == "stream":
        lines = [line for line in raw.decode().split("\n") if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]", lines[-3:]
        for line in lines[:-1]:
            ChatCompletionChunk.model_validate_json(line.removeprefix("data: "))
    elif status == 200:
        ChatCompletion.model_validate_json(raw)
    else:
        error = json.loads(raw)["error"]
        assert error["code"] == status and error["request_id"] == request_id
        expected = {"bad_json": 400, "bad_field": 400, "bad_model": 404}.get(kind, 200)
        assert status in (expected, 429), (kind, status, error)
    retry_after = int(reply.headers.get("retry-after", 0))
    assert (retry_after >= 1) is (status == 429)
    return {
        "kind": kind,
        "status": status,
        "id": request_id,
        "seconds": seconds,
        "retry_after": retry_after,
    }


async def _load(url: str, count: int, clients: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    work = [_request(rng) for _ in range(count)]
    results: list[dict] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        while work:
            kind, body = work.pop()
            results.append(result := await _send(client, kind, body))
            if result["status"] == 429:  # a polite client backs off, as the SDK does
                await asyncio.sleep(min(result["retry_after"], 2) * rng.uniform(0.5, 1))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return results


def _peak_rss_mb(pid: int) -> float:
    """The peak resident memory of the server and its model runners, together."""
    server, total = psutil.Process(pid), 0.0
    for process in (server, *server.children(recursive=True)):
        status = Path(f"/proc/{process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        total += int(line.split()[1]) / 1024
    return total


def test_load_every_request_answered_or_refused_and_ledgered_once(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--no-auth", "--parallel", str(PARALLEL), "--queue", str(QUEUE))
    try:
        started = time.perf_counter()
        results = asyncio.run(_load(server.url, REQUESTS, CLIENTS, seed=8))
        wall = time.perf_counter() - started
        rss = _peak_rss_mb(server.process.pid)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    finally:
        stop_server(server)
    assert server.process.returncode == 0

    statuses = [r["status"] for r in results]
    assert len(results) == REQUESTS and all(s < 500 for s in statuses)
    held = [r for r in results if r["status"] == 200]
    refused = [r for r in results if r["status"] == 429]
    assert held and refused  # 32 clients against 4 slots and a queue of 8
    assert 'openvertex_rejected_total{reason="queue_full"}' in metrics

    rows = ledger(server)
    assert sorted(row["request_id"] for row in rows) == sorted(r["id"] for r in results)
    assert {row["status"] for row in rows} == set(statuses)
    assert all(row["completion_tokens"] > 0 for row in rows if row["status"] == 200)
    assert rss < RSS_BOUND_MB

    latencies = sorted(r["seconds"] for r in held)
    refusals = sorted(r["seconds"] for r in refused)
    print(
        f"\nload: {REQUESTS} requests from {CLIENTS} clients in {wall:.1f} s: "
        f"{len(held)} answered 200, {len(refused)} refused 429, "
        f"{len(results) - len(held) - len(refused)} bad requests 4xx; "
        f"200s p50 {statistics.median(latencies):.2f} s, "
        f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.2f} s; "
        f"429s p50 {statistics.median(refusals) * 1000:.0f} ms, max {refusals[-1] * 1000:.0f} ms; "
        f"peak RSS {rss:.0f} MB"
    )


def test_kill_9_during_load_loses_no_committed_record(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--no-auth", "--parallel", str(PARALLEL))
    load = threading.Thread(target=lambda: _survive(server), daemon=True)
    load.start()
    deadline = time.monotonic() + 120
    while len(committed := ledger(server)) < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    server.process.kill()  # SIGKILL, mid-load: no chance to close anything
    server.process.wait(10)
    load.join(30)

    with sqlite3.connect(server.data_dir / "openvertex.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = {row["request_id"] for row in ledger(server)}
    assert len(committed) >= 30 and {row["request_id"] for row in committed} <= after

    restarted = start_server(tmp_path, "--no-auth")
    try:
        reply = httpx.post(
            f"{restarted.url}{CHAT}",
            json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
            timeout=60,
        )
        assert reply.status_code == 200
        deadline = time.monotonic() + 5  # the row is written just after the reply is sent
        while len(ledger(restarted)) == len(after) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ledger(restarted)) == len(after) + 1
        table = openvertex_cli(restarted, "usage", "--project", "load-test", "--since", "1h")
        answered = sum(row["model"] == MODEL for row in ledger(restarted))
        row = next(line for line in table.splitlines() if MODEL in line)
        assert "load-test" in row and f" {answered} " in row
    finally:
        stop_server(restarted)


def _survive(server: Server) -> None:
    """Load that goes on until the server is killed under it."""
    # The server is killed mid-answer: the errors that follow are expected here.
    with contextlib.suppress(httpx.TransportError, AssertionError, KeyError, ValueError):
        asyncio.run(_load(server.url, 10_000, 16, seed=9))


@pytest.fixture(autouse=True)
def _quiet_httpx_logs() -> None:
    """httpx logs every request at INFO; 200 of them bury a failure's output."""
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
