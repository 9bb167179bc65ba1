"""Schemathesis against a real server, driven by the server's own `/openapi.json`.

Every generated request, valid or not, must get a documented status, content type,
headers and body, and never a 5xx; data the document calls invalid must be refused.
So the document is tested as much as the server: a drift between them fails here.

Each operation runs as a plain Hypothesis test over `APIOperation.as_strategy`:
schemathesis' pytest loader `from_fixture` fails on pytest 9.2 (it sets `Node._nodeid`).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from conftest import Server, start_server, stop_server
from hypothesis import HealthCheck, given, settings

VERTEX = "/v1/projects/{project}/locations/{location}/endpoints/openapi"
OPERATIONS = [
    ("POST", "/v1/chat/completions"),
    ("POST", VERTEX + "/chat/completions"),
    ("POST", "/v1/images/generations"),
    ("POST", VERTEX + "/images/generations"),
    ("POST", "/v1/completions"),
    ("POST", VERTEX + "/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", VERTEX + "/embeddings"),
    ("GET", "/v1/models"),
    ("GET", VERTEX + "/models"),
    ("GET", "/v1/models/{model_id}"),
    ("GET", VERTEX + "/models/{model_id}"),
    ("POST", "/token"),
]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("fuzz"),
        *("--no-auth", "--context", "256", "--threads", "1", "--parallel", "2"),
    )
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "request-timeout": 120,
        }
    )
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", config=config)
    schema.config.update(base_url=fuzz_server.url)
    return schema


# Invalid requests where there is something to get wrong: a body, or a model name.
FUZZED = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in schemathesis.GenerationMode
    if mode is schemathesis.GenerationMode.POSITIVE or method == "POST" or "{model_id}" in path
]


@pytest.mark.parametrize(("method", "path", "mode"), FUZZED, ids=str)
def test_api_conforms_to_its_document(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: schemathesis.GenerationMode
) -> None:
    operation = api_schema[path][method]

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate()

    conforms()


def test_every_api_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    documented = {
        (method.upper(), path)
        for path, item in api_schema.raw_schema["paths"].items()
        for method in item
        if path.startswith("/v1/") or path == "/token"
    }
    assert documented == set(OPERATIONS)


def test_document_describes_the_hand_read_bodies(fuzz_server: Server) -> None:
    document = httpx.get(f"{fuzz_server.url}/openapi.json").json()
    chat = document["paths"]["/v1/chat/completions"]["post"]
    body = chat["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    assert "messages" in document["components"]["schemas"]["ChatCompletionRequest"]["required"]
    assert "Retry-After" in chat["responses"]["429"]["headers"]
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    token = document["paths"]["/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert "422" not in str(document["paths"])  # validation errors are 400s
