"""`GET /metrics`: Prometheus text that tells requests, tokens, first-token time and slots."""

from __future__ import annotations

import time

import httpx
import openai
from conftest import MODEL, Server, metric_samples, metric_value

VERTEX_CHAT = "/v1/projects/{project}/locations/{location}/endpoints/openapi/chat/completions"


def test_requests_tokens_and_timings_are_counted(server: Server, client: openai.OpenAI) -> None:
    before = metric_samples(server)
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
    )
    httpx.post(f"{server.vertex_base}/chat/completions", json={"model": MODEL}, timeout=10)
    time.sleep(0.2)  # a request is counted just after its reply is sent
    after = metric_samples(server)

    def grew(name: str, **labels: str) -> float:
        return metric_value(after, f"openvertex_{name}", **labels) - metric_value(
            before, f"openvertex_{name}", **labels
        )

    assert grew("requests_total", route=VERTEX_CHAT, status="200", model=MODEL) == 1
    assert grew("requests_total", route=VERTEX_CHAT, status="400") == 1
    tokens = {"model": MODEL}  # project ids only with --metrics-detail
    assert grew("tokens_total", kind="completion", **tokens) == reply.usage.completion_tokens
    assert grew("tokens_total", kind="prompt", **tokens) == reply.usage.prompt_tokens
    assert grew("time_to_first_token_seconds_count", model=MODEL) == 1
    assert grew("decode_tokens_per_second_count", model=MODEL) == 1
    assert grew("queue_wait_seconds_count") >= 1
    assert not any("project" in s.labels for s in after)
    assert metric_value(after, "openvertex_slots") == 4 + 4  # the chat and embedding models
    assert metric_value(after, "openvertex_queue_depth") == 0
