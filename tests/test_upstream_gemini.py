"""A real Vertex AI as the upstream (`dialect = "gemini"`), against a contract server.

Google's servers cannot be reached from here. The contract server below answers
as Vertex does, in the shapes captured from the real google-genai SDK's traffic
(`../shared/reference/sdk-captures/genai/`: a01 plain, a03 SSE with CRLF
framing, a13/a15 function calls with ids and thought signatures, a21 thoughts,
a05/a06 token counts); it records what openvertex sends so the translation can
be checked. Credentials: an API key (express mode), and the operator's
Application Default Credentials, here a key file of the session's own openvertex.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from conftest import Server, free_port, start_server, stop_server
from google import genai
from google.genai import types
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from test_upstream_images import from_data_url, picture

BASE = "/v1beta1/projects/p1/locations/us-central1/publishers/google/models"
KEY = "contract-key"
META = {"modelVersion": "gemini-2.5-flash", "responseId": "r1",
        "createTime": "2026-11-30T00:00:00Z"}  # fmt: skip
USAGE = {"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10}


def _reply(parts: list[dict], usage: dict | None = None, finish: str = "STOP") -> dict:
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
    return {"candidates": [candidate], "usageMetadata": usage or USAGE, **META}


THOUGHTFUL = _reply(
    [{"text": "Multiply 17 by 23...", "thought": True},
     {"text": "391", "thoughtSignature": "c2ln"}],
    {"promptTokenCount": 7, "candidatesTokenCount": 1, "thoughtsTokenCount": 20,
     "totalTokenCount": 28},
)  # fmt: skip
CALLING = _reply(
    [{"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}},
      "thoughtSignature": "c2lnLWJ5dGVz"}]
)  # fmt: skip
# As gemini-2.5-flash-image answers: a caption, then the image as inline data.
RED_DOT = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
    )
).decode()
DRAWING = _reply(
    [{"text": "A red dot."}, {"inlineData": {"mimeType": "image/png", "data": RED_DOT}}]
)
STREAM = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
     "usageMetadata": {"trafficType": "ON_DEMAND"}, **META},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo "}]}}], **META},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "world."}]},
                     "finishReason": "STOP"}], "usageMetadata": USAGE, **META},
]  # fmt: skip


class Contract:
    """Vertex's publisher-model routes, answering from the captured shapes; it keeps what
    it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        routes = [
            Route(BASE + "/{model}", self.model, methods=["GET"]),
            Route(BASE + "/{target}", self.call, methods=["POST"]),
        ]
        self.app = Starlette(routes=routes)

    def _authorised(self, request: Request) -> bool:
        bearer = request.headers.get("authorization", "")
        return request.headers.get("x-goog-api-key") == KEY or bearer.startswith("Bearer ya29.")

    async def model(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
        return JSONResponse({"name": f"publishers/google/models/{request.path_params['model']}"})

    async def call(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
        method = request.path_params["target"].partition(":")[2]
        body = await request.json()
        self.seen.append({"method": method, "headers": dict(request.headers), "body": body})
        if "temperature" in body.get("generationConfig", {}) and (
            body["generationConfig"]["temperature"] > 1.5
        ):
            return _error(400, "INVALID_ARGUMENT", "temperature too high for this model")
        if method == "countTokens":
            return JSONResponse({"totalTokens": 5})
        if method == "computeTokens":
            return JSONResponse(
                {
                    "tokensInfo": [
                        {
                            "tokens": ["SGVsbG8=", "IHdvcmxk"],
                            "tokenIds": ["9259", "2134"],
                            "role": "user",
                        }
                    ]
                }
            )
        if method == "streamGenerateContent":
            assert request.query_params.get("alt") == "sse"
            events = (f"data: {json.dumps(e)}\r\n\r\n" for e in STREAM)
            return StreamingResponse(events, media_type="text/event-stream")
        if "IMAGE" in body.get("generationConfig", {}).get("responseModalities", []):
            return JSONResponse(DRAWING)
        if "tools" in body:
            return JSONResponse(CALLING)
        if "thinkingConfig" in body.get("generationConfig", {}):
            return JSONResponse(THOUGHTFUL)
        return JSONResponse(_reply([{"text": "Hello from capture."}]))


def _error(code: int, status: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return JSONResponse(body, status_code=code)


@pytest.fixture(scope="module")
def contract() -> Iterator[tuple[Contract, str]]:
    contract = Contract()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(contract.app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield contract, f"http://127.0.0.1:{port}{BASE}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    contract: tuple[Contract, str],
    auth_server: Server,
) -> Iterator[Server]:
    """`gemini-express` reaches the contract with an API key, `gemini-adc` with ADC."""
    _, url = contract
    tmp = tmp_path_factory.mktemp("gemini-gateway")
    config = tmp / "models.toml"
    config.write_text(
        f"""
[[models]]
names = ["google/gemini-express"]
upstreams = ["{url}"]
upstream_model = "gemini-2.5-flash"
dialect = "gemini"
api_key_env = "CONTRACT_KEY"

[[models]]
names = ["google/gemini-painter"]
upstreams = ["{url}"]
upstream_model = "gemini-2.5-flash-image"
dialect = "gemini"
api_key_env = "CONTRACT_KEY"
image_generation = true

[[models]]
names = ["google/gemini-adc"]
upstreams = ["{url}"]
upstream_model = "gemini-2.5-flash"
dialect = "gemini"
"""
    )
    env = {"CONTRACT_KEY": KEY, "GOOGLE_APPLICATION_CREDENTIALS": str(auth_server.default_key_file)}
    srv = start_server(tmp, "--no-auth", "--config", str(config), env=env)
    yield srv
    stop_server(srv)


def client(gateway: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.vertex_base, api_key="any", max_retries=0, timeout=60)


def last(contract: tuple[Contract, str], method: str) -> dict[str, Any]:
    return next(s for s in reversed(contract[0].seen) if s["method"] == method)


def test_plain_and_streamed_replies_through_the_openai_wire(gateway, contract) -> None:
    reply = client(gateway).chat.completions.create(
        model="gemini-express",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=20,
        temperature=0.3,
    )
    assert reply.choices[0].message.content == "Hello from capture."
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (7, 3)
    sent = last(contract, "generateContent")
    assert sent["headers"]["x-goog-api-key"] == KEY
    assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert sent["body"]["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert sent["body"]["generationConfig"] | {"topP": None} == {
        "maxOutputTokens": 20, "temperature": 0.3, "topP": None
    }  # fmt: skip
    chunks = list(
        client(gateway).chat.completions.create(
            model="gemini-express", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Hello world."
    )


def test_thoughts_and_their_tokens(gateway, contract) -> None:
    reply = client(gateway).chat.completions.create(
        model="gemini-express",
        messages=[{"role": "user", "content": "What is 17*23?"}],
        extra_body={"google": {"thinking_config": {"thinking_budget": 1024,
                                                   "include_thoughts": True}}},
    )  # fmt: skip
    assert reply.choices[0].message.content == "Multiply 17 by 23...\n\n391"
    assert reply.usage.completion_tokens_details.reasoning_tokens == 20
    assert reply.usage.completion_tokens == 21
    config = last(contract, "generateContent")["body"]["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


def test_function_calls_and_their_results(gateway, contract) -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    reply = client(gateway).chat.completions.create(
        model="gemini-express", messages=messages, tools=tools, tool_choice="required"
    )
    call = reply.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_1", "get_weather", {"city": "Paris"}
    )  # fmt: skip
    assert reply.choices[0].finish_reason == "tool_calls"
    sent = last(contract, "generateContent")["body"]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["type"] == "object"

    follow_up = [
        *messages,
        reply.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21}'},
    ]
    client(gateway).chat.completions.create(model="gemini-express", messages=follow_up)
    contents = last(contract, "generateContent")["body"]["contents"]
    assert contents[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert contents[2]["parts"] == [{"functionResponse": {
        "name": "get_weather", "response": {"temperature": 21}, "id": "call_1"}}]  # fmt: skip


def test_the_native_wire_on_both_sides(gateway, contract) -> None:
    native = genai.Client(
        vertexai=True, api_key="any", http_options=types.HttpOptions(base_url=gateway.url)
    )
    thinking = types.ThinkingConfig(thinking_budget=64, include_thoughts=True)
    reply = native.models.generate_content(
        model="gemini-express",
        contents="What is 17*23?",
        config=types.GenerateContentConfig(thinking_config=thinking),
    )
    assert [(p.thought, p.text) for p in reply.candidates[0].content.parts] == [
        (True, "Multiply 17 by 23..."), (None, "391")
    ]  # fmt: skip
    assert reply.usage_metadata.thoughts_token_count == 20
    assert native.models.count_tokens(model="gemini-express", contents="Hi").total_tokens == 5
    info = native.models.compute_tokens(model="gemini-express", contents="Hello world")
    assert info.tokens_info[0].token_ids == [9259, 2134]


def test_the_operators_google_credentials(gateway, contract) -> None:
    """ADC: google-auth refreshes a token from the key file's token endpoint, off the loop."""
    reply = client(gateway).chat.completions.create(
        model="gemini-adc", messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].message.content == "Hello from capture."
    assert last(contract, "generateContent")["headers"]["authorization"].startswith("Bearer ya29.")


def test_an_upstream_refusal_reaches_the_client(gateway) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client(gateway).chat.completions.create(
            model="gemini-express", messages=[{"role": "user", "content": "Hi"}], temperature=1.9
        )
    assert "temperature too high" in refused.value.message


def test_cards_say_gemini_runs_underneath(gateway, contract) -> None:
    card = httpx.get(f"{gateway.url}/v1/models/gemini-express", timeout=10).json()["openvertex"]
    assert card["backend"].startswith("upstream gemini server pool (1 of 1")
    assert card["input_modalities"] == ["text", "image", "audio"]
    assert contract[1] in card["upstreams"]


def test_a_gemini_that_draws(gateway, contract) -> None:
    reply = client(gateway).chat.completions.create(
        model="gemini-painter",
        modalities=["text", "image"],
        messages=[{"role": "user", "content": "Draw a red dot."}],
    )
    message = reply.choices[0].message
    assert message.content == "A red dot."
    assert picture(from_data_url(message.model_extra["images"][0]["image_url"]["url"])).size == (
        1,
        1,
    )
    config = last(contract, "generateContent")["body"]["generationConfig"]
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
