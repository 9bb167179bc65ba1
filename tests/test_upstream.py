"""openvertex in front of a serving cluster: upstream engines and replica pools.

The upstreams are real servers on loopback: two llama.cpp servers (the same
xllamacpp build the bench uses as its reference) serving the embedded GGUF, one
thread each so their spinning threads do not stall one another, and another
openvertex (the session's `server`). The gateway loads no model of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest
from conftest import Server, free_port, start_server, stop_server
from google import genai
from google.genai import errors, types
from test_media_chat import png

LLAMA_SERVER = Path(__file__).resolve().parents[1] / "bench" / "llama_server.py"
POOLED, BEHIND, DEAD = "gemini-2.5-pro", "gemini-2.0-flash-lite", "gemini-dead"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@dataclass
class Upstream:
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(LLAMA_SERVER), "--port", str(self.port), "--threads", "1",
             "--parallel", "2", "--context", "2048"],
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"llama.cpp upstream not ready:\n{self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Upstream]]:
    tmp = tmp_path_factory.mktemp("upstreams")
    pool = [Upstream(free_port(), tmp / f"llama-{i}.log") for i in range(2)]
    for upstream in pool:
        upstream.start()
    yield pool
    for upstream in pool:
        if upstream.process and upstream.process.poll() is None:
            upstream.kill()


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, upstreams: list[Upstream], server: Server
) -> Iterator[Server]:
    """Three models, none of them in process: a llama.cpp pool, an openvertex, nothing."""
    tmp = tmp_path_factory.mktemp("gateway")
    urls = json.dumps([u.url for u in upstreams])
    config = tmp / "models.toml"
    config.write_text(
        f"""
[[models]]
names = ["google/{POOLED}"]
upstreams = {urls}
upstream_model = "smollm2"
dialect = "llamacpp"
llguidance = true
max_concurrency = 2

[[models]]
names = ["google/{BEHIND}"]
upstreams = ["{server.url}/v1"]
upstream_model = "gemini-2.0-flash"
vision = true  # it reads images itself (the other openvertex's OCR): pass them on

[[models]]
names = ["google/{DEAD}"]
upstreams = ["http://127.0.0.1:{free_port()}/v1"]
"""
    )
    srv = start_server(tmp, "--no-auth", "--config", str(config))
    yield srv
    stop_server(srv)


def openai_client(gateway: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.vertex_base, api_key="any", max_retries=0, timeout=120)


def genai_client(gateway: Server) -> genai.Client:
    options = types.HttpOptions(base_url=gateway.url, timeout=120_000)
    return genai.Client(vertexai=True, api_key="any", http_options=options)


def cards(gateway: Server) -> dict[str, dict]:
    listing = httpx.get(f"{gateway.url}/v1/models", timeout=10).json()["data"]
    return {card["id"].removeprefix("google/"): card["openvertex"] for card in listing}


@pytest.mark.parametrize("model", [POOLED, BEHIND])
def test_both_wires_plain_and_streamed(gateway: Server, model: str) -> None:
    client = openai_client(gateway)
    messages = [{"role": "user", "content": "Say something about the sea."}]
    reply = client.chat.completions.create(model=model, messages=messages, max_tokens=16)
    assert reply.choices[0].message.content and reply.usage.completion_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model=model, messages=messages, max_tokens=16, stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage.completion_tokens > 0
    native = genai_client(gateway)
    config = types.GenerateContentConfig(max_output_tokens=16)
    assert native.models.generate_content(model=model, contents="Hi", config=config).text
    streamed = list(
        native.models.generate_content_stream(model=model, contents="Hi", config=config)
    )
    assert "".join(c.text or "" for c in streamed) and streamed[-1].usage_metadata


@pytest.mark.parametrize("model", [POOLED, BEHIND])
def test_schema_and_tools_hold_over_an_upstream(gateway: Server, model: str) -> None:
    client = openai_client(gateway)
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Describe a person."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "Person", "schema": PERSON, "strict": True}},
        max_tokens=256,
        temperature=0,  # llama.cpp's grammar allows long whitespace runs; don't sample them
    )  # fmt: skip
    assert reply.choices[0].finish_reason == "stop", reply
    jsonschema.validate(json.loads(reply.choices[0].message.content), PERSON)
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=48,
    )
    calls = reply.choices[0].message.tool_calls
    assert calls and all(c.function.name == "get_weather" for c in calls)
    for call in calls:
        jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])
    gemini = genai_client(gateway)
    native = gemini.models.generate_content(
        model=model,
        contents="What is the weather in Paris?",
        config=types.GenerateContentConfig(
            max_output_tokens=48,
            tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
                name="get_weather", description="The weather in a city",
                parameters_json_schema=WEATHER["function"]["parameters"])])],
            tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
                mode="ANY")),
        ),
    )  # fmt: skip
    assert native.function_calls
    jsonschema.validate(native.function_calls[0].args, WEATHER["function"]["parameters"])


def test_thinking_budget_reaches_an_openvertex_upstream(gateway: Server) -> None:
    """A budget goes to an OpenAI-compatible upstream as the nearest `reasoning_effort`."""
    client = openai_client(gateway)
    question = [{"role": "user", "content": "Why is the sky blue?"}]
    thought = client.chat.completions.create(
        model=BEHIND, messages=question, max_tokens=160, reasoning_effort="low"
    )
    assert thought.usage.completion_tokens_details.reasoning_tokens > 0
    plain = client.chat.completions.create(
        model=BEHIND, messages=question, max_tokens=32, reasoning_effort="none"
    )
    assert plain.usage.completion_tokens_details.reasoning_tokens == 0


def test_images_go_as_data_to_an_upstream_that_sees(gateway: Server) -> None:
    """The gateway does not read the image; the upstream (whose OCR does) gets its bytes."""
    url = f"data:image/png;base64,{base64.b64encode(png('HERON 7', size=60)).decode()}"
    content = [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": "What text is in this image?"},
    ]
    reply = openai_client(gateway).chat.completions.create(
        model=BEHIND, messages=[{"role": "user", "content": content}], max_tokens=16
    )
    assert re.fullmatch(r"HERON ?7\.?", reply.choices[0].message.content.strip()), reply
    assert cards(gateway)[BEHIND]["input_modalities"][:2] == ["text", "image"]


def test_cards_say_what_runs_underneath(gateway: Server, upstreams: list[Upstream]) -> None:
    pooled = cards(gateway)[POOLED]
    assert pooled["backend"].startswith("upstream llamacpp server pool (2 of 2")
    assert all(u.url in pooled["upstreams"] for u in upstreams)
    assert pooled["weights"] == "smollm2"


def test_upstream_refusal_is_the_clients_4xx(gateway: Server) -> None:
    """A prompt longer than the upstream's context: its 400 reaches the client as a 400."""
    client = openai_client(gateway)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=POOLED, messages=[{"role": "user", "content": "word " * 3000}], max_tokens=4
        )
    assert refused.value.status_code == 400


def test_no_healthy_replica_is_a_503(gateway: Server) -> None:
    with pytest.raises(openai.InternalServerError) as refused:
        openai_client(gateway).chat.completions.create(
            model=DEAD, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
    assert refused.value.status_code == 503
    assert "healthy" in refused.value.message
    gemini = genai_client(gateway)
    with pytest.raises(errors.ServerError) as native:
        gemini.models.generate_content(model=DEAD, contents="Hi")
    assert native.value.code == 503


async def _one(client: httpx.AsyncClient, url: str, stream: bool, i: int) -> str:
    """How one request ended: ok, a stream cut with an error event, or a failure status."""
    body = {
        "model": POOLED,
        "messages": [{"role": "user", "content": f"Tell me a story ({i})."}],
        "max_tokens": 40,
        "stream": stream,
    }
    if not stream:
        reply = await client.post(url, json=body)
        return "ok" if reply.status_code == 200 else f"status {reply.status_code}"
    async with client.stream("POST", url, json=body) as reply:
        if reply.status_code != 200:
            return f"status {reply.status_code}"
        lines = [line async for line in reply.aiter_lines() if line.startswith("data: ")]
    if any('"error"' in line for line in lines):
        return "cut"
    return "ok" if lines[-1] == "data: [DONE]" else "unterminated"


async def _load_with_a_kill(gateway: Server, victim: Upstream) -> list[tuple[bool, str]]:
    url = f"{gateway.vertex_base}/chat/completions"
    async with httpx.AsyncClient(timeout=120) as client:

        async def worker(w: int) -> list[tuple[bool, str]]:
            out = []
            for i in range(4):
                stream = (w + i) % 2 == 0
                out.append((stream, await _one(client, url, stream, w * 10 + i)))
            return out

        async def killer() -> None:
            await asyncio.sleep(1.5)
            victim.kill()

        results, _ = await asyncio.gather(asyncio.gather(*(worker(w) for w in range(6))), killer())
    return [r for rs in results for r in rs]


def test_failover_when_a_replica_dies_and_returns(
    gateway: Server, upstreams: list[Upstream]
) -> None:
    victim = upstreams[0]
    results = asyncio.run(_load_with_a_kill(gateway, victim))
    whole = [outcome for stream, outcome in results if not stream]
    streams = [outcome for stream, outcome in results if stream]
    assert whole and [o for o in whole if o != "ok"] == [], results
    assert [o for o in streams if o not in ("ok", "cut")] == [], results
    assert cards(gateway)[POOLED]["backend"].startswith("upstream llamacpp server pool (1 of 2")

    client = openai_client(gateway)  # the pool keeps serving on the other replica
    for _ in range(3):
        reply = client.chat.completions.create(
            model=POOLED, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
        assert reply.choices[0].message.content

    victim.start()  # same port: the health check brings it back
    deadline = time.monotonic() + 20
    while "(2 of 2" not in cards(gateway)[POOLED]["backend"]:
        assert time.monotonic() < deadline, cards(gateway)[POOLED]
        time.sleep(0.25)
