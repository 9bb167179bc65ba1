"""Replicas sharing state: requests per second through one openvertex and through two.

The replicas front one llama.cpp server and load no model, so what they add is their
own work per request: an API-key check and a quota window (SQLite and memory, or
PostgreSQL and Redis), the proxying, a ledger row after. Each layout answers the
same short requests (one token each) from 16 concurrent clients, spread in turn
over its replicas. The ledger check counts the rows PostgreSQL holds for the run's
request ids: exactly one each, or the run is wrong.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import servers
from gateway import gateway_config
from measure import MODEL

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from services import running_postgres, running_redis

CLIENTS = 16
LAYOUTS = (  # (name, replicas, shared state)
    ("1 replica, SQLite + in-process quotas", 1, False),
    ("1 replica, PostgreSQL + Redis", 1, True),
    ("2 replicas, PostgreSQL + Redis", 2, True),
)
PROJECT = "bench-replicas"


def api_key(*where: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openvertex", "apikeys", "create", "--project", PROJECT, *where],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.split()[-1]


async def measure(targets: list[str], key: str, total: int) -> tuple[float, float, list[str]]:
    """Requests per second, median latency (ms) and the request ids sent."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    run = uuid.uuid4().hex[:8]
    ids = [f"bench-{run}-{i}" for i in range(total)]
    latencies: list[float] = []
    queue = iter(range(total))

    async def client(http: httpx.AsyncClient) -> None:
        for i in queue:
            started = time.perf_counter()
            headers = {"x-goog-api-key": key, "x-request-id": ids[i]}
            reply = await http.post(targets[i % len(targets)], json=body, headers=headers)
            reply.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(timeout=120) as http:
        warm = [http.post(t, json=body, headers={"x-goog-api-key": key}) for t in targets]
        await asyncio.gather(*warm)
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return total / elapsed, statistics.median(latencies), ids


def run(threads: int, total: int, work: Path, log) -> list[tuple[str, ...]]:
    os.environ["OPENVERTEX_DEFAULT_RPM"] = "0"  # windows still counted; nobody refused
    table = []
    baseline = 0.0
    with (
        servers.llama_reference(max(1, threads - 1), CLIENTS, 512, work) as reference,
        running_postgres() as postgres,
        running_redis(work) as redis,
    ):
        chat_url = reference.url
        config = gateway_config(chat_url.removesuffix("/chat/completions"), work)
        shared_key = api_key("--database-url", postgres.url)
        for name, count, shared in LAYOUTS:
            flags = ["--config", str(config)]
            if shared:
                flags += ["--database-url", postgres.url, "--redis-url", redis.url]
            with ExitStack() as stack:
                targets = []
                for i in range(count):
                    home = work / f"replica-{i}"
                    home.mkdir(exist_ok=True)
                    base, data, _ = stack.enter_context(servers.openvertex_server(home, *flags))
                    vertex = f"{base}/v1/projects/{PROJECT}/locations/us-central1/endpoints/openapi"
                    targets.append(f"{vertex}/chat/completions")
                key = shared_key if shared else api_key("--data-dir", str(data))
                rps, p50, ids = asyncio.run(measure(targets, key, total))
            baseline = baseline or rps
            ledger = "-"
            if shared:
                with psycopg.connect(postgres.url) as db:
                    rows = db.execute(
                        "SELECT COUNT(*), COUNT(DISTINCT request_id) FROM usage"
                        " WHERE request_id = ANY(%s)",
                        (ids,),
                    ).fetchone()
                ledger = f"{rows[0]} rows, {rows[1]} ids / {total}"
            table.append((name, f"{rps:.1f}", f"{rps / baseline:.2f}", f"{p50:.1f}", ledger))
            log(f"replicas: {name} done")
    return table


COLUMNS = ("layout", "requests/s", "vs 1 replica SQLite", "latency p50, ms", "ledger check")
