"""`GET /metrics`: Prometheus text that tells requests, tokens, first-token time and slots."""

from __future__ import annotations

import time

import httpx
import openai
from conftest import MODEL, Server
from prometheus_client.parser import text_string_to_metric_families

VERTEX_CHAT = "/v1/projects/{project}/locations/{location}/endpoints/openapi/chat/completions"


def _samples(server: Server) -> list:
    reply = httpx.get(f"{server.url}/metrics", timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(reply.text) for s in family.samples]


def _value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_requests_tokens_and_timings_are_counted(server: Server, client: openai.OpenAI) -> None:
    before = _samples(server)
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
    )
    httpx.post(f"{server.vertex_base}/chat/completions", json={"model": MODEL}, timeout=10)
    time.sleep(0.2)  # a request is counted just after its reply is sent
    after = _samples(server)

    def grew(name: str, **labels: str) -> float:
        return _value(after, f"openvertex_{name}", **labels) - _value(
            before, f"openvertex_{name}", **labels
        )

    assert grew("requests_total", route=VERTEX_CHAT, status="200", model=MODEL) == 1
    assert grew("requests_total", route=VERTEX_CHAT, status="400") == 1
    tokens = {"project": "test-project", "model": MODEL}
    assert grew("tokens_total", kind="completion", **tokens) == reply.usage.completion_tokens
    assert grew("tokens_total", kind="prompt", **tokens) == reply.usage.prompt_tokens
    assert grew("time_to_first_token_seconds_count", model=MODEL) == 1
    assert grew("decode_tokens_per_second_count", model=MODEL) == 1
    assert grew("queue_wait_seconds_count") >= 1
    assert _value(after, "openvertex_slots") == 4
    assert _value(after, "openvertex_queue_depth") == 0
