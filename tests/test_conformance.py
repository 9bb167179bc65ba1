"""Raw replies validate against OpenAI's official OpenAPI schemas.

The spec still marks nullable fields with OpenAPI 3.0's `nullable: true`, which JSON
Schema ignores; it is rewritten into `anyOf: [<schema>, {"type": "null"}]` first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import MODEL, Server
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parents[2] / "shared" / "reference" / "openai-openapi.yaml"
SPEC_URI = "urn:openai-openapi"
HELLO = [{"role": "user", "content": "Name a colour."}]


def denull(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true` as JSON Schema, everywhere in the tree."""
    if isinstance(node, list):
        return [denull(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: denull(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


@pytest.fixture(scope="module")
def registry() -> Registry:
    if not SPEC.is_file():
        pytest.skip(f"OpenAI's OpenAPI spec is not at {SPEC} (shared/reference beside the repo)")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = denull(yaml.load(SPEC.read_text(), Loader=loader))
    return Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))


def validator(registry: Registry, name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=registry
    )


def assert_valid(registry: Registry, name: str, instance: Any) -> None:
    errors = list(validator(registry, name).iter_errors(instance))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


@pytest.fixture(scope="module")
def chat_url(server: Server) -> str:
    return f"{server.vertex_base}/chat/completions"


def test_nullable_rewrite_is_what_makes_a_null_valid() -> None:
    schema = denull({"type": "object", "properties": {"a": {"type": "string", "nullable": True}}})
    Draft202012Validator(schema).validate({"a": None})
    assert not Draft202012Validator(schema).is_valid({"a": 1})


@pytest.mark.parametrize(
    "extra",
    [{}, {"logprobs": True, "top_logprobs": 2, "n": 2}],
    ids=["plain", "logprobs-n2"],
)
def test_completion_matches_schema(
    registry: Registry, chat_url: str, extra: dict[str, Any]
) -> None:
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 8, **extra}
    response = httpx.post(chat_url, json=body, timeout=120)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert_valid(registry, "CreateChatCompletionResponse", reply)
    assert [c["index"] for c in reply["choices"]] == list(range(extra.get("n", 1)))
    if extra.get("logprobs"):
        for choice in reply["choices"]:
            tokens = choice["logprobs"]["content"]
            assert tokens and all(len(t["top_logprobs"]) == 2 for t in tokens)


def test_invalid_reply_is_caught(registry: Registry) -> None:
    """The schema check has teeth: a reply missing `choices[].message` is rejected."""
    reply = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None}],
    }
    assert not validator(registry, "CreateChatCompletionResponse").is_valid(reply)


def sse_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON of each `data:` line; the stream must end with `data: [DONE]`."""
    lines = [line for line in response.iter_lines() if line.startswith("data:")]
    data = [line.removeprefix("data:").strip() for line in lines]
    assert data and data[-1] == "[DONE]", data[-3:]
    assert "[DONE]" not in data[:-1]
    return [json.loads(item) for item in data[:-1]]


@pytest.mark.parametrize(
    "extra",
    [
        {"stream_options": {"include_usage": True}},
        {"stream_options": {"include_usage": True}, "logprobs": True, "top_logprobs": 2, "n": 2},
        {},
    ],
    ids=["usage", "usage-logprobs-n2", "no-usage"],
)
def test_stream_chunks_match_schema(
    registry: Registry, chat_url: str, extra: dict[str, Any]
) -> None:
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 8, "stream": True, **extra}
    with httpx.stream("POST", chat_url, json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = sse_chunks(response)
    for chunk in chunks:
        assert_valid(registry, "CreateChatCompletionStreamResponse", chunk)
    assert len({c["id"] for c in chunks}) == 1
    n = extra.get("n", 1)
    finished = [ch["index"] for c in chunks for ch in c["choices"] if ch["finish_reason"]]
    assert sorted(finished) == list(range(n))  # each choice finishes exactly once
    if extra.get("stream_options"):
        last = chunks[-1]
        assert last["choices"] == []
        assert last["usage"]["total_tokens"] == (
            last["usage"]["prompt_tokens"] + last["usage"]["completion_tokens"]
        )
    else:
        assert all(c.get("usage") is None for c in chunks)
