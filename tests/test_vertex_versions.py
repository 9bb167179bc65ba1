"""Vertex's OpenAI-compatible endpoint under `v1beta1` too, and Google's fields in either case."""

from __future__ import annotations

import openai
import pytest
from conftest import LOCATION, MODEL, PROJECT, Server

BUDGET_HEADER = "x-openvertex-thinking-budget"
USER = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture(scope="module")
def beta_client(server: Server) -> openai.OpenAI:
    base = f"{server.url}/v1beta1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi"
    return openai.OpenAI(base_url=base, api_key="any", max_retries=0, timeout=300)


def test_the_openai_sdk_on_v1beta1(beta_client: openai.OpenAI) -> None:
    reply = beta_client.chat.completions.create(model=MODEL, messages=USER, max_tokens=8)
    assert reply.choices[0].message.content
    stream = beta_client.chat.completions.create(
        model=MODEL, messages=USER, max_tokens=8, stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert MODEL in [m.id for m in beta_client.models.list()]
    assert beta_client.models.retrieve(MODEL).id == MODEL


def test_google_fields_in_either_case(client: openai.OpenAI) -> None:
    """The same thinking budget, thoughts shown under the same tag, whichever case is sent."""
    snake = {"thinking_budget": 8, "include_thoughts": True}
    camel = {"thinkingBudget": 8, "includeThoughts": True}
    cases = [
        {"thinking_config": snake, "thought_tag_marker": "t"},
        {"thinkingConfig": camel, "thoughtTagMarker": "t"},
    ]
    replies = [
        client.chat.completions.with_raw_response.create(
            model=MODEL, messages=USER, max_tokens=32, seed=1, temperature=0,
            extra_body={"google": google},
        )
        for google in cases
    ]  # fmt: skip
    assert [raw.headers[BUDGET_HEADER] for raw in replies] == ["8", "8"]
    contents = [raw.parse().choices[0].message.content for raw in replies]
    assert contents[0] == contents[1]
