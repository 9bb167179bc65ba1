"""Gemini 3 as Vertex serves it: new names by family, thought signatures enforced, and
Vertex's own refusals, with google-genai and the openai SDK unchanged.

Each rule cites where Vertex documents it:
- thought signatures: https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures
- thinking levels and budgets: https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thinking
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest
from conftest import Server
from google import genai
from google.genai import errors, types

GEMINI_3 = "gemini-3-flash-preview"
GEMINI_3_PRO = "gemini-3-pro-preview"
GEMINI_2 = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The current weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
TOOLS = [types.Tool(function_declarations=[WEATHER])]
FORCED = types.ToolConfig(
    function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.ANY)
)
QUESTION = types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")])
ANSWER = types.Content(
    role="user",
    parts=[types.Part.from_function_response(name="get_weather", response={"sky": "clear"})],
)


@pytest.fixture(scope="module")
def genai_client(server: Server) -> genai.Client:
    options = types.HttpOptions(base_url=server.url, timeout=300_000)
    return genai.Client(vertexai=True, api_key="any", http_options=options)


def config(**fields) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(**{"max_output_tokens": 24, "seed": 1, **fields})


def called(client: genai.Client, model: str = GEMINI_3) -> types.Content:
    """A model turn holding a forced call to get_weather."""
    reply = client.models.generate_content(
        model=model,
        contents=[QUESTION],
        config=config(max_output_tokens=64, tools=TOOLS, tool_config=FORCED),
    )
    assert reply.function_calls, reply
    return reply.candidates[0].content


def replay(client: genai.Client, turn: types.Content, model: str = GEMINI_3) -> str:
    reply = client.models.generate_content(
        model=model, contents=[QUESTION, turn, ANSWER], config=config(tools=TOOLS)
    )
    return reply.text or ""


def refusal(work) -> errors.ClientError:
    with pytest.raises(errors.ClientError) as refused:
        work()
    assert refused.value.code == 400, refused.value
    return refused.value


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [GEMINI_3, GEMINI_3_PRO, "gemini-3.1-pro-preview", "google/gemini-3.1-flash-lite-preview",
     "gemini-4.0-flash-001"],
)  # fmt: skip
def test_a_new_gemini_name_is_served_by_its_family(genai_client: genai.Client, name: str) -> None:
    reply = genai_client.models.generate_content(model=name, contents="Hi", config=config())
    assert reply.text is not None
    assert reply.model_version == name.removeprefix("google/")


def test_model_version_resolves_vertex_aliases(genai_client: genai.Client) -> None:
    """Vertex's auto-updated alias answers with the stable version it points at."""
    reply = genai_client.models.generate_content(
        model="gemini-2.0-flash", contents="Hi", config=config(max_output_tokens=2)
    )
    assert reply.model_version == "gemini-2.0-flash-001"


def test_model_lists_show_the_families(server: Server) -> None:
    ids = [m.id for m in openai.OpenAI(base_url=f"{server.url}/v1", api_key="x").models.list()]
    assert {"google/gemini-*-flash-lite*", "google/gemini-*-flash*", "google/gemini-*-pro*"} <= set(
        ids
    )
    native = httpx.get(f"{server.url}/v1/publishers/google/models").json()["publisherModels"]
    assert "publishers/google/models/gemini-*-pro*" in [m["name"] for m in native]


def test_other_kinds_of_model_are_not_of_the_family(genai_client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as refused:
        genai_client.models.generate_content(model="gemini-2.5-flash-tts", contents="Hi")
    assert refused.value.code == 404


def test_image_models_get_the_honest_refusal(genai_client: genai.Client, server: Server) -> None:
    """No model here draws: asking Imagen is a FAILED_PRECONDITION saying how to serve one,
    not a 404 listing the chat models."""
    with pytest.warns(Warning):  # google-genai marks generate_images deprecated
        refused = refusal(
            lambda: genai_client.models.generate_images(
                model="imagen-3.0-generate-002", prompt="A lighthouse at dusk."
            )
        )
    assert refused.status == "FAILED_PRECONDITION" and "image_generation = true" in refused.message
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as openai_refused:
        client.images.generate(model="imagen-3.0-generate-002", prompt="A lighthouse at dusk.")
    assert openai_refused.value.body["status"] == "FAILED_PRECONDITION"
    refused = refusal(
        lambda: genai_client.models.generate_content(model="gemini-2.5-flash-image", contents="Hi")
    )
    assert refused.status == "FAILED_PRECONDITION"


# --- thought signatures -----------------------------------------------------------------------


def test_every_returned_call_carries_a_signature(genai_client: genai.Client) -> None:
    turn = called(genai_client)
    calls = [part for part in turn.parts if part.function_call]
    assert calls and all(part.thought_signature for part in calls)
    assert replay(genai_client, turn) is not None  # the history as returned is taken


def test_a_streamed_call_carries_its_signature(genai_client: genai.Client) -> None:
    chunks = list(
        genai_client.models.generate_content_stream(
            model=GEMINI_3,
            contents=[QUESTION],
            config=config(max_output_tokens=64, tools=TOOLS, tool_config=FORCED),
        )
    )
    parts = [p for c in chunks for p in c.candidates[0].content.parts if p.function_call]
    assert parts and all(p.thought_signature for p in parts)


def test_a_history_without_the_signature_is_refused_as_vertex_refuses_it(
    genai_client: genai.Client,
) -> None:
    call = called(genai_client).parts[0].function_call
    bare = types.Content(role="model", parts=[types.Part(function_call=call)])
    refused = refusal(lambda: replay(genai_client, bare))
    assert refused.status == "INVALID_ARGUMENT"
    assert refused.message.startswith(
        "Unable to submit request because function call `default_api:get_weather` in the 2. "
        "content block is missing a `thought_signature`."
    )
    assert "contents[1].parts[0]" in refused.details["error"]["param"]
    # Only the current turn is checked: a later user question starts a new one.
    follow_up = types.Content(role="user", parts=[types.Part.from_text(text="And in Rome?")])
    reply = genai_client.models.generate_content(
        model=GEMINI_3, contents=[QUESTION, bare, ANSWER, follow_up], config=config()
    )
    assert reply.text is not None


def test_an_altered_call_or_signature_is_corrupted(genai_client: genai.Client) -> None:
    turn = called(genai_client)
    signature = turn.parts[0].thought_signature
    elsewhere = types.FunctionCall(name="get_weather", args={"city": "Lyon"})
    edited = types.Content(
        role="model", parts=[types.Part(function_call=elsewhere, thought_signature=signature)]
    )
    assert refusal(lambda: replay(genai_client, edited)).message == "Corrupted thought signature."
    flipped = bytes([signature[0], signature[1] ^ 1, *signature[2:]])
    garbled = types.Content(
        role="model",
        parts=[types.Part(function_call=turn.parts[0].function_call, thought_signature=flipped)],
    )
    assert refusal(lambda: replay(genai_client, garbled)).message == "Corrupted thought signature."
    # A signature is the model's: another model's turn does not carry over.
    refused = refusal(lambda: replay(genai_client, turn, model=GEMINI_3_PRO))
    assert refused.message == "Corrupted thought signature."


@pytest.mark.parametrize(
    "skip", [b"skip_thought_signature_validator", b"context_engineering_is_the_way_to_go"]
)
def test_the_documented_skip_value_is_honoured(genai_client: genai.Client, skip: bytes) -> None:
    call = types.FunctionCall(name="get_weather", args={"city": "Oslo"})
    made_up = types.Content(
        role="model", parts=[types.Part(function_call=call, thought_signature=skip)]
    )
    assert replay(genai_client, made_up) is not None
    raw = {"contents": [QUESTION.model_dump(mode="json", exclude_none=True),
                        {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                         "args": {"city": "Oslo"}}, "thoughtSignature": skip.decode()}]},
                        ANSWER.model_dump(mode="json", exclude_none=True)]}  # fmt: skip
    url = f"{genai_client._api_client._http_options.base_url}/v1beta1/publishers/google/models/"
    reply = httpx.post(f"{url}{GEMINI_3}:generateContent", json=raw, timeout=300)
    assert reply.status_code == 200, reply.text


def test_gemini_2_stays_lenient(genai_client: genai.Client) -> None:
    call = types.FunctionCall(name="get_weather", args={"city": "Oslo"})
    bare = types.Content(role="model", parts=[types.Part(function_call=call)])
    assert replay(genai_client, bare, model=GEMINI_2) is not None


def test_automatic_function_calling_replays_signatures(genai_client: genai.Client) -> None:
    """The SDK runs the function and sends the model's turn back as it came."""
    ran: list[str] = []

    def get_weather(city: str) -> dict:
        """The current weather in a city."""
        ran.append(city)
        return {"sky": "clear"}

    reply = genai_client.models.generate_content(
        model=GEMINI_3,
        contents="What is the weather in Paris?",
        config=config(
            max_output_tokens=64,
            tools=[get_weather],
            tool_config=FORCED,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(maximum_remote_calls=2),
        ),
    )
    assert len(ran) == 1
    history = reply.automatic_function_calling_history
    assert history[1].parts[0].thought_signature


@pytest.mark.parametrize("stream", [False, True])
def test_chats_replay_signatures(genai_client: genai.Client, stream: bool) -> None:
    chat = genai_client.chats.create(
        model=GEMINI_3, config=config(max_output_tokens=64, tools=TOOLS, tool_config=FORCED)
    )
    send = chat.send_message_stream if stream else chat.send_message
    first = list(send("Weather in Paris?")) if stream else [send("Weather in Paris?")]
    assert any(chunk.function_calls for chunk in first)
    answer = types.Part.from_function_response(name="get_weather", response={"sky": "clear"})
    list(send(answer)) if stream else send(answer)  # the history went back whole
    signed = [p for c in chat.get_history() for p in c.parts or () if p.thought_signature]
    assert len(signed) >= 2


def test_the_openai_sdk_tool_loop_on_gemini_3(server: Server) -> None:
    """Vertex's OpenAI layer returns the signature in `extra_content` and takes a history
    without it; one sent back altered is refused."""
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    model = f"google/{GEMINI_3}"
    tools = [{"type": "function", "function": {"name": "get_weather",
              "parameters": WEATHER.parameters_json_schema}}]  # fmt: skip
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]
    reply = client.chat.completions.create(
        model=model, messages=messages, tools=tools, tool_choice="required", max_tokens=32
    )
    message = reply.choices[0].message
    call = message.tool_calls[0]
    assert call.model_extra["extra_content"]["google"]["thought_signature"]
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "clear"}]  # fmt: skip
    assert client.chat.completions.create(model=model, messages=messages, max_tokens=8)
    sent = messages[1]["tool_calls"][0]
    sent["function"]["arguments"] = json.dumps({"city": "Lyon"})
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=model, messages=messages, max_tokens=8)
    assert refused.value.body["message"] == "Corrupted thought signature."
    del sent["extra_content"]  # standard tool_calls only: taken
    assert client.chat.completions.create(model=model, messages=messages, max_tokens=8)


# --- thinking knobs ---------------------------------------------------------------------------


def test_thinking_level_is_gemini_3s_knob(genai_client: genai.Client) -> None:
    low = types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)
    reply = genai_client.models.generate_content(
        model=GEMINI_3, contents="Hi", config=config(thinking_config=low)
    )
    assert reply.usage_metadata.total_token_count
    refused = refusal(
        lambda: genai_client.models.generate_content(
            model=GEMINI_2, contents="Hi", config=config(thinking_config=low)
        )
    )
    assert refused.message == "Thinking level is not supported for this model."
    minimal = types.ThinkingConfig(thinking_level=types.ThinkingLevel.MINIMAL)
    refused = refusal(
        lambda: genai_client.models.generate_content(
            model=GEMINI_3_PRO, contents="Hi", config=config(thinking_config=minimal)
        )
    )
    assert "'minimal' is not a supported thinking level" in refused.message
    budget = types.ThinkingConfig(thinking_budget=64)  # still taken, for older code
    assert genai_client.models.generate_content(
        model=GEMINI_3, contents="Hi", config=config(thinking_config=budget)
    )


def test_a_pro_model_cannot_stop_thinking(genai_client: genai.Client) -> None:
    off = types.ThinkingConfig(thinking_budget=0)
    for model in ("gemini-2.5-pro", GEMINI_3_PRO):
        refused = refusal(
            lambda m=model: genai_client.models.generate_content(
                model=m, contents="Hi", config=config(thinking_config=off)
            )
        )
        assert refused.message == "Budget 0 is invalid. This model only works in thinking mode."


# --- Vertex's other refusals ------------------------------------------------------------------


def test_empty_text_is_refused_on_both_wires(genai_client: genai.Client, server: Server) -> None:
    empty = types.Content(role="user", parts=[types.Part.from_text(text="")])
    refused = refusal(
        lambda: genai_client.models.generate_content(model=GEMINI_2, contents=[empty])
    )
    assert refused.message.startswith(
        "Unable to submit request because it has an empty text parameter."
    )
    refused = refusal(
        lambda: genai_client.models.generate_content(
            model=GEMINI_2, contents="Hi", config=config(system_instruction="")
        )
    )
    assert "empty text parameter" in refused.message
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as openai_refused:
        client.chat.completions.create(
            model=f"google/{GEMINI_2}", messages=[{"role": "user", "content": ""}]
        )
    assert "empty text parameter" in openai_refused.value.body["message"]


def test_count_tokens_counts_the_contents_not_the_template(genai_client: genai.Client) -> None:
    """Vertex counts what the request says; the chat template around it is the model's."""
    text = "Write one sentence about the sea."
    counted = genai_client.models.count_tokens(model=GEMINI_2, contents=text).total_tokens
    cut = genai_client.models.compute_tokens(model=GEMINI_2, contents=text)
    assert counted == len(cut.tokens_info[0].token_ids)
    read = genai_client.models.generate_content(
        model=GEMINI_2, contents=text, config=config(max_output_tokens=1)
    )
    assert read.usage_metadata.prompt_token_count > counted  # what the model read


# --- size before work -------------------------------------------------------------------------

HUGE = 100_000


async def test_a_huge_request_is_refused_at_once_while_a_stream_keeps_its_pace(
    server: Server,
) -> None:
    bodies = {
        "/v1/chat/completions": {
            "model": f"google/{GEMINI_2}",
            "messages": [{"role": "user", "content": "hi"}] * HUGE,
        },
        f"/v1/publishers/google/models/{GEMINI_3}:generateContent": {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}] * HUGE
        },
        f"/v1/publishers/google/models/{GEMINI_3}:countTokens": {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}] * HUGE
        },
    }
    encoded = {path: json.dumps(body).encode() for path, body in bodies.items()}
    gaps: list[float] = []

    async def stream() -> None:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
        chunks = await client.chat.completions.create(
            model=f"google/{GEMINI_2}",
            messages=[{"role": "user", "content": "Count to fifty."}],
            max_tokens=96,
            stream=True,
        )
        last = time.monotonic()
        async for _ in chunks:
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    async def refused(http: httpx.AsyncClient, path: str) -> float:
        await asyncio.sleep(0.3)  # the stream is under way
        started = time.monotonic()
        reply = await http.post(path, content=encoded[path], timeout=60)
        took = time.monotonic() - started
        assert reply.status_code == 400, reply.text[:300]
        error = reply.json()["error"]
        assert error["status"] == "INVALID_ARGUMENT"
        assert "exceeds the maximum number of tokens allowed" in error["message"]
        return took

    async with httpx.AsyncClient(base_url=server.url) as http:
        streaming = asyncio.create_task(stream())
        times = [await refused(http, path) for path in encoded]
        await streaming
    assert max(times) < 1.0, times
    assert len(gaps) > 8 and max(gaps[1:]) < 1.0, gaps
