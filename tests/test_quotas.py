"""Per-project quotas: over RPM or TPM is a 429 with Retry-After, and the SDK's retry works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from conftest import MODEL, Server, openvertex_cli, start_server, stop_server

WINDOW_S = 2  # the quota window, shortened from Vertex's minute so retries are quick
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("quotas")
    srv = start_server(
        tmp, "--no-auth", "--parallel", "2", env={"OPENVERTEX_QUOTA_WINDOW_SECONDS": str(WINDOW_S)}
    )
    yield srv
    stop_server(srv)


def _client(server: Server, project: str, retries: int) -> openai.OpenAI:
    base = f"{server.url}/v1/projects/{project}/locations/us-central1/endpoints/openapi"
    return openai.OpenAI(base_url=base, api_key="any", max_retries=retries, timeout=60)


def _ask(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=4)
    return reply.choices[0].finish_reason


def test_over_rpm_is_429_with_retry_after_and_the_sdk_retry_succeeds(
    quota_server: Server,
) -> None:
    out = openvertex_cli(quota_server, "projects", "set-quota", "rpm-project", "--rpm", "2")
    assert "rpm 2" in out and "tpm default" in out
    strict = _client(quota_server, "rpm-project", retries=0)
    for _ in range(2):
        _ask(strict)
    with pytest.raises(openai.RateLimitError) as refused:
        _ask(strict)
    response = refused.value.response
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW_S
    error = response.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and "2 requests per 2 s" in error["message"]
    assert error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"

    # The SDK's own retry waits Retry-After seconds, then gets through.
    patient = _client(quota_server, "rpm-project", retries=2)
    raw = patient.chat.completions.with_raw_response.create(
        model=MODEL, messages=HELLO, max_tokens=4
    )
    assert raw.http_response.status_code == 200 and raw.retries_taken >= 1

    # Another project is not affected.
    assert _ask(_client(quota_server, "other-project", retries=0))


def test_over_tpm_is_429_once_the_window_has_its_tokens(quota_server: Server) -> None:
    openvertex_cli(quota_server, "projects", "set-quota", "tpm-project", "--tpm", "40")
    client = _client(quota_server, "tpm-project", retries=0)
    used = 0
    with pytest.raises(openai.RateLimitError) as refused:
        for _ in range(5):
            reply = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=4)
            used += reply.usage.total_tokens
    assert used >= 40  # refused only once the window held the quota's tokens
    assert "40 tokens per 2 s" in refused.value.response.json()["error"]["message"]
    assert int(refused.value.response.headers["retry-after"]) >= 1


def test_rejections_are_counted_in_metrics(quota_server: Server) -> None:
    text = httpx.get(f"{quota_server.url}/metrics", timeout=10).text
    assert 'openvertex_rejected_total{reason="quota_rpm"}' in text
    assert 'openvertex_rejected_total{reason="quota_tpm"}' in text
