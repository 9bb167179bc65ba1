"""Every client mistake gets the right status and Google's error envelope, always an object.

Each test is followed by a good request (the autouse `still_serving` fixture), so a
mistake that wedged or killed the server fails the test that caused it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import MODEL, Server, ledger_row, start_server, stop_server

HELLO = [{"role": "user", "content": "Say hi."}]
LONG_PROMPT = " ".join(["word"] * 6000)  # ~6000 tokens: over the 4096-token window
ANY = object()  # a `param` this test does not pin down


def assert_envelope(
    response: httpx.Response, code: int, status: str = "INVALID_ARGUMENT", param: Any = ANY
) -> dict[str, Any]:
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict), f"error body must be an object, got {body!r}"
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["status"] == status
    assert isinstance(error["type"], str) and error["type"]
    assert "param" in error
    if param is not ANY:
        assert error["param"] == param
    return error


@pytest.fixture(autouse=True)
def still_serving(client: openai.OpenAI):
    yield
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=1)
    assert reply.choices[0].finish_reason in ("stop", "length")


@pytest.fixture(scope="module")
def chat_url(server: Server) -> str:
    return f"{server.vertex_base}/chat/completions"


# --- bodies the SDK cannot send: raw HTTP ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b'{"model": "google/gemini-2.0-flash-001", "messages": [', "not valid JSON"),
        (b"{bad json}", "not valid JSON"),
        (b'[{"model": "google/gemini-2.0-flash-001"}]', "object"),
        (b"", "needs a JSON body"),
        (b"   \n", "needs a JSON body"),
    ],
    ids=["truncated", "not-json", "json-list", "empty", "whitespace"],
)
def test_unparsable_body(chat_url: str, raw: bytes, needle: str) -> None:
    response = httpx.post(chat_url, content=raw, headers={"content-type": "application/json"})
    error = assert_envelope(response, 400, param=None)
    assert needle in error["message"]


def test_no_body_at_all(chat_url: str) -> None:
    error = assert_envelope(httpx.post(chat_url), 400)
    assert "needs a JSON body" in error["message"]


def test_messages_as_a_string(chat_url: str) -> None:
    response = httpx.post(chat_url, json={"model": MODEL, "messages": "hi"})
    assert_envelope(response, 400, param="messages")


# --- mistakes sent through the real SDK --------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"temperature": "0.5"}, "temperature"),
        ({"n": 1.5}, "n"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"n": 9}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": None}]}, "messages[0]"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_bad_argument(client: openai.OpenAI, overrides: dict[str, Any], param: str) -> None:
    kwargs = {"model": MODEL, "messages": HELLO, "max_tokens": 4, **overrides}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**kwargs)
    assert str(caught.value.code) == "400"  # the SDK reads `code` as a string
    assert caught.value.param == param
    assert_envelope(caught.value.response, 400, param=param)


@pytest.mark.parametrize("max_tokens", [2**31, 2**32 + 2])
def test_huge_max_tokens_is_refused_or_honoured(client: openai.OpenAI, max_tokens: int) -> None:
    try:
        reply = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Count from 1 to 20."}],
            max_tokens=max_tokens,
            temperature=0,
            stop=["5"],
        )
    except openai.BadRequestError as exc:
        assert exc.param == "max_tokens"
    else:
        assert reply.usage.completion_tokens > 2  # not wrapped around to a tiny limit


def test_top_logprobs_without_logprobs(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, top_logprobs=2)
    error = assert_envelope(caught.value.response, 400)
    assert "top_logprobs" in error["message"]
    assert "logprobs" in error["message"].replace("top_logprobs", "")


def test_unknown_content_part_type(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": [{"type": "video", "video": {"url": "x"}}]}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=messages)
    error = assert_envelope(caught.value.response, 400)
    assert "video" in error["message"]
    assert error["param"] == "messages[0].content[0]"


def test_broken_image_names_its_part(client: openai.OpenAI) -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert caught.value.param == "messages[0].content[1]"
    error = assert_envelope(caught.value.response, 400)
    assert "image" in error["message"]


def test_media_off_says_text_only(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--no-auth", "--parallel", "1", env={"OPENVERTEX_MEDIA": "0"})
    try:
        part = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
        messages = [{"role": "user", "content": [part]}]
        reply = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": MODEL, "messages": messages},
            timeout=30,
        )
        error = assert_envelope(reply, 400)
        assert "text only" in error["message"] and error["param"] == "messages[0].content[0]"
    finally:
        stop_server(server)


# --- prompt over the context window ------------------------------------------------------


def test_prompt_over_context_window(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=8
        )
    assert caught.value.param == "messages"
    error = assert_envelope(caught.value.response, 400, param="messages")
    assert "context window" in error["message"]
    assert "4096" in error["message"]


def test_streamed_prompt_over_context_window_is_a_400_not_a_stream(chat_url: str) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": LONG_PROMPT}],
        "max_tokens": 8,
        "stream": True,
    }
    with httpx.stream("POST", chat_url, json=body, timeout=60) as response:
        response.read()
    assert not response.headers["content-type"].startswith("text/event-stream")
    error = assert_envelope(response, 400, param="messages")
    assert "context window" in error["message"]


def test_sdk_raises_before_streaming_a_prompt_too_long(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": LONG_PROMPT}],
            max_tokens=8,
            stream=True,
        )


# --- models, routes, methods -------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model(client: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="google/gemini-9-ultra", messages=HELLO, max_tokens=4, stream=stream
        )
    assert str(caught.value.code) == "404"
    assert caught.value.param == "model"
    error = assert_envelope(caught.value.response, 404, "NOT_FOUND", param="model")
    assert "gemini-9-ultra" in error["message"]


@pytest.mark.parametrize(
    "path", ["/v1/nothing-here", "/v1/projects/p/locations/l/endpoints/openapi/rerank"]
)
def test_unknown_route(server: Server, path: str) -> None:
    response = httpx.post(server.url + path, json={"model": MODEL})
    error = assert_envelope(response, 404, "NOT_FOUND")
    assert path in error["message"]


def test_wrong_method(chat_url: str) -> None:
    response = httpx.get(chat_url)
    assert_envelope(response, 405, "UNIMPLEMENTED")
    assert "POST" in response.headers["allow"]


# --- body size ---------------------------------------------------------------------------

LIMIT = 32 * 1024 * 1024


def _chunks(total: int, size: int = 1024 * 1024):
    while total > 0:
        yield b" " * min(size, total)
        total -= size


def test_body_over_limit_with_content_length(chat_url: str) -> None:
    response = httpx.post(chat_url, content=b" " * (LIMIT + 1), timeout=60)
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    error = assert_envelope(response, 413)
    assert str(LIMIT) in error["message"]


def test_chunked_body_over_limit(chat_url: str) -> None:
    response = httpx.post(chat_url, content=_chunks(LIMIT + 1), timeout=60)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_envelope(response, 413)


def test_configured_body_limit(tmp_path: Path) -> None:
    small = start_server(
        tmp_path, "--parallel", "1", "--no-auth", env={"OPENVERTEX_MAX_BODY_BYTES": "2048"}
    )
    try:
        url = f"{small.url}/v1/chat/completions"
        ok = httpx.post(url, json={"model": MODEL, "messages": HELLO, "max_tokens": 1}, timeout=60)
        assert ok.status_code == 200, ok.text
        too_big = {"model": MODEL, "messages": [{"role": "user", "content": "x" * 3000}]}
        assert_envelope(httpx.post(url, json=too_big), 413)
        error = assert_envelope(httpx.post(url, content=_chunks(3000, size=1000)), 413)
        assert "2048" in error["message"]
    finally:
        stop_server(small)


# --- what is accepted --------------------------------------------------------------------


def test_unknown_top_level_parameters_are_ignored(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=2,
        extra_body={"not_a_real_parameter": {"x": 1}, "another_one": [1, 2]},
    )
    assert reply.choices[0].message.role == "assistant"


@pytest.mark.parametrize(
    "extra_body",
    [
        {"google": {"thought_tag_marker": "think", "labels": {"team": "qa"}}},
        {"extra_body": {"google": {"thought_tag_marker": "think", "labels": {"team": "qa"}}}},
    ],
    ids=["google", "double-nested"],
)
def test_google_extras_are_accepted(client: openai.OpenAI, extra_body: dict[str, Any]) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=2, extra_body=extra_body
    )
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_a_refused_request_is_ledgered_under_the_model_it_asked_for(
    server: Server, chat_url: str
) -> None:
    body = {"model": MODEL, "messages": HELLO, "temperature": 9}
    refused = httpx.post(chat_url, json=body)
    assert_envelope(refused, 400)
    assert ledger_row(server, refused.headers["x-request-id"])["model"] == MODEL
