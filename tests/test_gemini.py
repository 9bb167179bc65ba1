"""The native Gemini API, driven by google-genai as Vertex users drive it.

SmolLM2 writes fluent nonsense, so replies are judged by shape, counts and validity;
meaning only where openvertex constrains it (grammars, OCR'd text, transcripts).
Raw HTTP is used only for what the SDK cannot send or hides: unknown fields, wire framing.
"""

from __future__ import annotations

import json
import re

import httpx
import jsonschema
import openai
import pytest
from conftest import LOCATION, PROJECT, Server, ledger_row
from conftest import openvertex_cli as cli
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials
from pydantic import BaseModel
from test_auth_refusals import google_token
from test_media_chat import png
from test_media_transcribe import MAX_WER, SENTENCES, speak, word_error_rate

MODEL = "gemini-2.0-flash"
THINKER = "gemini-2.5-flash"
PROMPT = "Write one sentence about the sea."
KEY_PROJECT = "openvertex-local"
# Vertex's auto-updated aliases answer with the stable version they point at.
VERSIONS = {
    "gemini-2.0-flash": "gemini-2.0-flash-001",
    "gemini-2.0-flash-lite": "gemini-2.0-flash-lite-001",
}
TIMEOUT_MS = 300_000


def options(server: Server) -> types.HttpOptions:
    return types.HttpOptions(base_url=server.url, timeout=TIMEOUT_MS)


def config(**fields) -> types.GenerateContentConfig:
    """Short replies keep the file fast; a fixed seed keeps them repeatable."""
    return types.GenerateContentConfig(**{"max_output_tokens": 16, "seed": 1, **fields})


@pytest.fixture(scope="module")
def express(server: Server) -> genai.Client:
    """Express mode: no project in the URL, any API key (the server runs without auth)."""
    return genai.Client(vertexai=True, api_key="any", http_options=options(server))


@pytest.fixture(scope="module")
def in_project(server: Server) -> genai.Client:
    """Project mode: `projects/{p}/locations/{l}` in the URL and a bearer token."""
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(token="x"),
        http_options=options(server),
    )


def authed(server: Server, monkeypatch: pytest.MonkeyPatch) -> genai.Client:
    """google-auth finds the key file and fetches a token from the server's /token."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(server.default_key_file))
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    return genai.Client(
        vertexai=True, project=KEY_PROJECT, location=LOCATION, http_options=options(server)
    )


def api_key(server: Server, project: str = KEY_PROJECT) -> str:
    return cli(server, "apikeys", "create", "--project", project).strip().splitlines()[-1]


def assert_usage_adds_up(usage: types.GenerateContentResponseUsageMetadata) -> None:
    thoughts = usage.thoughts_token_count or 0
    assert usage.prompt_token_count > 0 and usage.candidates_token_count is not None
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + thoughts
    )


def assert_whole_reply(reply: types.GenerateContentResponse, model: str = MODEL) -> None:
    assert reply.text, reply
    assert reply.candidates[0].finish_reason in (
        types.FinishReason.STOP,
        types.FinishReason.MAX_TOKENS,
    )
    assert_usage_adds_up(reply.usage_metadata)
    assert reply.model_version == VERSIONS.get(model, model)
    assert reply.response_id and reply.create_time is not None


def thought_parts(reply: types.GenerateContentResponse) -> list[types.Part]:
    return [p for p in reply.candidates[0].content.parts if p.thought]


def joined(chunks: list[types.GenerateContentResponse]) -> str:
    return "".join(c.text or "" for c in chunks)


def assert_stream_ends_well(chunks: list[types.GenerateContentResponse]) -> None:
    assert len(chunks) > 2
    last = chunks[-1]
    assert last.candidates[0].finish_reason is not None
    assert_usage_adds_up(last.usage_metadata)
    assert len({c.response_id for c in chunks}) == 1


# --- plain generation -------------------------------------------------------------------------


def test_generate_content(express: genai.Client) -> None:
    reply = express.models.generate_content(model=MODEL, contents=PROMPT, config=config())
    assert_whole_reply(reply)
    assert reply.usage_metadata.candidates_token_count <= 16


async def test_generate_content_async_in_project_mode(in_project: genai.Client) -> None:
    reply = await in_project.aio.models.generate_content(
        model=MODEL, contents=PROMPT, config=config()
    )
    assert_whole_reply(reply)


def test_candidate_count(express: genai.Client) -> None:
    reply = express.models.generate_content(
        model=MODEL, contents=PROMPT, config=config(candidate_count=3, max_output_tokens=8)
    )
    assert [c.index for c in reply.candidates] == [0, 1, 2]
    assert all(c.content.parts[0].text for c in reply.candidates)
    assert_usage_adds_up(reply.usage_metadata)


def test_stream_matches_the_whole_reply(express: genai.Client) -> None:
    settings = config(seed=11, temperature=0, max_output_tokens=24)
    whole = express.models.generate_content(model=MODEL, contents=PROMPT, config=settings)
    chunks = list(
        express.models.generate_content_stream(model=MODEL, contents=PROMPT, config=settings)
    )
    assert_stream_ends_well(chunks)
    assert joined(chunks) == whole.text
    assert chunks[-1].usage_metadata.candidates_token_count == (
        whole.usage_metadata.candidates_token_count
    )


async def test_stream_async(in_project: genai.Client) -> None:
    settings = config(seed=12, temperature=0, max_output_tokens=24)
    whole = await in_project.aio.models.generate_content(
        model=MODEL, contents=PROMPT, config=settings
    )
    stream = await in_project.aio.models.generate_content_stream(
        model=MODEL, contents=PROMPT, config=settings
    )
    chunks = [chunk async for chunk in stream]
    assert_stream_ends_well(chunks)
    assert joined(chunks) == whole.text


# --- tokens -----------------------------------------------------------------------------------


def test_count_tokens(express: genai.Client) -> None:
    """The count is what the request says; system instruction and tools count too."""
    plain = express.models.count_tokens(model=MODEL, contents=PROMPT)
    assert plain.total_tokens > 0
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="The weather in a city.",
        parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    fuller = express.models.count_tokens(
        model=MODEL,
        contents=PROMPT,
        config=types.CountTokensConfig(
            system_instruction="Answer like a pirate.",
            tools=[types.Tool(function_declarations=[weather])],
        ),
    )
    assert fuller.total_tokens > plain.total_tokens


def test_compute_tokens(express: genai.Client) -> None:
    text = "Tokens, decoded, give back the text: héllo wörld."
    info = express.models.compute_tokens(model=MODEL, contents=text).tokens_info
    assert len(info) == 1
    assert info[0].role == "user"
    assert len(info[0].token_ids) == len(info[0].tokens) > 5
    assert all(isinstance(i, int) for i in info[0].token_ids)
    assert all(isinstance(t, bytes) for t in info[0].tokens)
    assert b"".join(info[0].tokens).decode() == text


# --- chat -------------------------------------------------------------------------------------


def test_chat_sends_the_history(express: genai.Client) -> None:
    chat = express.chats.create(model=MODEL, config=config(max_output_tokens=12))
    first = chat.send_message("My name is Ada.")
    second = chat.send_message("What is my name?")
    history = chat.get_history()
    assert [c.role for c in history] == ["user", "model", "user", "model"]
    assert history[1].parts[0].text == first.text
    first_turn = (
        first.usage_metadata.prompt_token_count + first.usage_metadata.candidates_token_count
    )
    assert second.usage_metadata.prompt_token_count > first_turn
    assert second.text


# --- thinking ---------------------------------------------------------------------------------


def test_thoughts_shown_within_budget(express: genai.Client) -> None:
    """Shown or hidden, the same seed thinks the same; only includeThoughts shows it."""

    def ask(include: bool) -> types.GenerateContentResponse:
        thinking = types.ThinkingConfig(thinking_budget=24, include_thoughts=include)
        return express.models.generate_content(
            model=THINKER,
            contents=PROMPT,
            config=config(max_output_tokens=40, thinking_config=thinking),
        )

    shown, hidden = ask(True), ask(False)
    usage = shown.usage_metadata
    assert 0 < usage.thoughts_token_count <= 24
    assert usage.thoughts_token_count + usage.candidates_token_count <= 40
    assert_usage_adds_up(usage)
    assert len(thought_parts(shown)) == 1 and thought_parts(shown)[0].text
    assert not thought_parts(hidden)
    assert hidden.usage_metadata.thoughts_token_count == usage.thoughts_token_count
    assert hidden.text == shown.text


def test_budget_zero_does_not_think(express: genai.Client) -> None:
    thinking = types.ThinkingConfig(thinking_budget=0, include_thoughts=True)
    reply = express.models.generate_content(
        model=THINKER, contents=PROMPT, config=config(thinking_config=thinking)
    )
    assert not thought_parts(reply)
    assert reply.usage_metadata.thoughts_token_count is None
    assert_whole_reply(reply, THINKER)


def test_thinking_level(express: genai.Client) -> None:
    low = types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW)
    reply = express.models.generate_content(
        model="gemini-3-flash-preview", contents=PROMPT, config=config(thinking_config=low)
    )
    assert_usage_adds_up(reply.usage_metadata)
    both = types.ThinkingConfig(thinking_level=types.ThinkingLevel.LOW, thinking_budget=64)
    with pytest.raises(errors.ClientError) as refused:
        express.models.generate_content(
            model="gemini-3-flash-preview", contents=PROMPT, config=config(thinking_config=both)
        )
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")


# --- structured output ------------------------------------------------------------------------


class City(BaseModel):
    name: str
    population: int
    coastal: bool


def test_response_schema_from_pydantic(express: genai.Client) -> None:
    reply = express.models.generate_content(
        model=MODEL,
        contents="Describe a city.",
        config=config(
            max_output_tokens=48, response_mime_type="application/json", response_schema=City
        ),
    )
    assert isinstance(reply.parsed, City), reply.text


def test_response_json_schema(express: genai.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 20},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        },
        "required": ["title", "tags", "rating"],
        "additionalProperties": False,
    }
    reply = express.models.generate_content(
        model=MODEL,
        contents="Review a film.",
        config=config(
            max_output_tokens=64,
            response_mime_type="application/json",
            response_json_schema=schema,
        ),
    )
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    jsonschema.validate(json.loads(reply.text), schema)


def test_enum_output(express: genai.Client) -> None:
    colours = ["crimson", "teal", "ochre"]
    reply = express.models.generate_content(
        model=MODEL,
        contents="Pick a colour.",
        config=config(
            response_mime_type="text/x.enum",
            response_schema={"type": "STRING", "enum": colours},
        ),
    )
    assert reply.text in colours


# --- function calling -------------------------------------------------------------------------

WEATHER_ARGS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
FUNCTIONS = [
    types.FunctionDeclaration(
        name="get_weather",
        description="The weather in a city.",
        parameters_json_schema=WEATHER_ARGS,
    ),
    types.FunctionDeclaration(
        name="book_taxi",
        description="Book a taxi.",
        parameters_json_schema={"type": "object", "properties": {"to": {"type": "string"}}},
    ),
]


def test_forced_function_call_and_its_answer(express: genai.Client) -> None:
    """SmolLM2 was not trained to call tools; mode ANY makes it, and the grammar makes
    the call valid."""
    question = types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")])
    forced = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_weather"]
        )
    )
    no_calls = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode.NONE
        )
    )
    tools = [types.Tool(function_declarations=FUNCTIONS)]
    reply = express.models.generate_content(
        model=MODEL,
        contents=[question],
        config=config(max_output_tokens=32, tools=tools, tool_config=forced),
    )
    assert reply.function_calls, reply
    for call in reply.function_calls:
        assert call.name == "get_weather" and call.id
        jsonschema.validate(call.args, WEATHER_ARGS)
    answers = [
        types.Part.from_function_response(name=call.name, response={"result": "18 C, clear"})
        for call in reply.function_calls
    ]
    follow_up = express.models.generate_content(
        model=MODEL,
        contents=[question, reply.candidates[0].content, types.Content(role="user", parts=answers)],
        config=config(tools=tools, tool_config=no_calls),
    )
    assert follow_up.text and not follow_up.function_calls


def test_automatic_function_calling_on_qwen(
    qwen_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK runs the Python function itself and sends its result back.

    Qwen2.5-Coder-0.5B calls again after reading a result rather than answering, so
    mode ANY with two remote calls makes the exchange exact: one call run, its result
    sent, and the second call handed back unrun."""
    calls: list[str] = []

    def get_weather(city: str) -> dict:
        """The current weather in a city."""
        calls.append(city)
        return {"city": city, "temperature_celsius": 18, "sky": "clear"}

    client = authed(qwen_server, monkeypatch)
    forced = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode.ANY
        )
    )
    reply = client.models.generate_content(
        model=MODEL,
        contents="What is the weather in Paris right now?",
        config=config(
            max_output_tokens=32,
            temperature=0,
            tools=[get_weather],
            tool_config=forced,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(maximum_remote_calls=2),
        ),
    )
    assert len(calls) == 1 and "paris" in calls[0].lower(), calls
    history = reply.automatic_function_calling_history
    assert [c.role for c in history] == ["user", "model", "user"]
    assert history[1].parts[0].function_call.id
    answer = history[2].parts[0].function_response
    assert answer.name == "get_weather" and answer.response["result"]["sky"] == "clear"
    assert [call.name for call in reply.function_calls] == ["get_weather"]


def test_two_models_in_one_server(qwen_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    client = authed(qwen_server, monkeypatch)
    lite = client.models.generate_content(
        model="gemini-2.0-flash-lite", contents=PROMPT, config=config()
    )
    assert_whole_reply(lite, "gemini-2.0-flash-lite")
    flash = client.models.generate_content(
        model="gemini-2.5-flash", contents=PROMPT, config=config()
    )
    assert_whole_reply(flash, "gemini-2.5-flash")
    for reply, name in ((lite, "gemini-2.0-flash-lite"), (flash, "gemini-2.5-flash")):
        headers = {k.lower(): v for k, v in reply.sdk_http_response.headers.items()}
        assert ledger_row(qwen_server, headers["x-request-id"])["model"] == f"google/{name}"
    listing = httpx.get(
        f"{qwen_server.url}/v1beta1/projects/{KEY_PROJECT}/locations/{LOCATION}"
        "/publishers/google/models",
        headers={"Authorization": f"Bearer {google_token(qwen_server.default_key_file)}"},
        timeout=30,
    )
    assert listing.status_code == 200, listing.text
    weights = {
        card["name"].rpartition("/")[2]: card["openvertex"]["weights"]
        for card in listing.json()["publisherModels"]
    }
    assert weights["gemini-2.0-flash"] == weights["gemini-2.5-flash"]
    assert weights["gemini-2.0-flash"] != weights["gemini-2.0-flash-lite"]
    card = client.models.get(model="gemini-2.0-flash-lite")
    assert card.name == "publishers/google/models/gemini-2.0-flash-lite"


# --- images and audio -------------------------------------------------------------------------


def test_inline_image_text_is_read(express: genai.Client) -> None:
    image = types.Part.from_bytes(data=png("PELICAN 42", size=60), mime_type="image/png")
    reply = express.models.generate_content(
        model=MODEL,
        contents=[image, "What text is in this image?"],
        config=config(max_output_tokens=24),
    )
    assert re.fullmatch(r"PELICAN ?42\.?", reply.text.strip()), reply.text
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP


def test_inline_audio_is_transcribed(express: genai.Client) -> None:
    sentence = SENTENCES[3]
    audio = types.Part.from_bytes(data=speak(sentence), mime_type="audio/wav")
    reply = express.models.generate_content(
        model=MODEL,
        contents=["Transcribe this audio.", audio],
        config=config(max_output_tokens=32),
    )
    assert word_error_rate(sentence, reply.text) <= MAX_WER, reply.text


# --- errors -----------------------------------------------------------------------------------


def test_unknown_model(express: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as refused:
        express.models.generate_content(model="gemini-0.1-nonexistent", contents=PROMPT)
    assert (refused.value.code, refused.value.status) == (404, "NOT_FOUND")
    assert "gemini-0.1-nonexistent" in refused.value.message


def test_out_of_range_temperature(express: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as refused:
        express.models.generate_content(model=MODEL, contents=PROMPT, config=config(temperature=5))
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")
    assert "temperature" in refused.value.message


def test_stream_refused_before_it_starts(express: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as refused:
        list(
            express.models.generate_content_stream(
                model=MODEL, contents=PROMPT, config=config(temperature=5)
            )
        )
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")


# --- raw HTTP ---------------------------------------------------------------------------------


def native_url(server: Server, method: str, model: str = MODEL) -> str:
    return f"{server.url}/v1beta1/publishers/google/models/{model}:{method}"


def post(server: Server, method: str, body: dict) -> httpx.Response:
    return httpx.post(
        native_url(server, method), json=body, headers={"x-goog-api-key": "any"}, timeout=300
    )


def user_says(text: str) -> list[dict]:
    return [{"role": "user", "parts": [{"text": text}]}]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"contents": user_says("Hi."), "temprature": 0.5}, "temprature"),
        (
            {"contents": user_says("Hi."), "generationConfig": {"maxOutputTokenz": 4}},
            "maxOutputTokenz",
        ),
    ],
)
def test_unknown_field_is_named(server: Server, body: dict, named: str) -> None:
    reply = post(server, "generateContent", body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert named in error["message"]


def test_stream_without_sse_is_a_json_array(server: Server) -> None:
    body = {"contents": user_says(PROMPT), "generationConfig": {"maxOutputTokens": 8, "seed": 3}}
    reply = post(server, "streamGenerateContent", body)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    chunks = reply.json()
    assert isinstance(chunks, list) and len(chunks) > 2
    for chunk in chunks:
        assert chunk["candidates"][0]["content"]["role"] == "model"
        assert chunk["modelVersion"] == VERSIONS[MODEL]
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 8


def test_sse_framing(server: Server) -> None:
    """The SDK parses every line as `data: ` JSON: no comments, no `[DONE]`."""
    body = {"contents": user_says(PROMPT), "generationConfig": {"maxOutputTokens": 8, "seed": 3}}
    reply = httpx.post(
        native_url(server, "streamGenerateContent") + "?alt=sse",
        json=body,
        headers={"x-goog-api-key": "any"},
        timeout=300,
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = [e for e in re.split(r"\r?\n\r?\n", reply.text) if e]
    assert len(events) > 2
    for event in events:
        assert event.startswith("data: {") and "\n" not in event, event
        assert "candidates" in json.loads(event.removeprefix("data: "))
    assert "[DONE]" not in reply.text


def test_snake_and_camel_case_alike(server: Server) -> None:
    snake = {
        "contents": user_says(PROMPT),
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"max_output_tokens": 6, "seed": 5, "temperature": 0},
    }
    camel = {
        "contents": user_says(PROMPT),
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"maxOutputTokens": 6, "seed": 5, "temperature": 0},
    }
    replies = [post(server, "generateContent", body) for body in (snake, camel)]
    assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
    texts = [r.json()["candidates"][0]["content"]["parts"][0]["text"] for r in replies]
    assert texts[0] == texts[1]
    assert [r.json()["usageMetadata"]["candidatesTokenCount"] for r in replies] == [6, 6]


# --- parity with the OpenAI-compatible route --------------------------------------------------


def test_same_text_through_both_apis(server: Server, in_project: genai.Client) -> None:
    """One project on both wires: its prompt cache is shared, so greedy decoding agrees to
    the token (a prompt read cold may round differently from one read from the cache)."""
    compat = openai.OpenAI(base_url=server.vertex_base, api_key="any", max_retries=0, timeout=300)
    via_openai = compat.chat.completions.create(
        model=f"google/{MODEL}",
        messages=[{"role": "user", "content": PROMPT}],
        seed=7,
        temperature=0,
        max_tokens=20,
    )
    via_gemini = in_project.models.generate_content(
        model=MODEL, contents=PROMPT, config=config(seed=7, temperature=0, max_output_tokens=20)
    )
    assert via_openai.choices[0].message.content == via_gemini.text
    assert via_openai.usage.prompt_tokens == via_gemini.usage_metadata.prompt_token_count


# --- authentication ---------------------------------------------------------------------------


def test_project_mode_through_google_auth(
    auth_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = authed(auth_server, monkeypatch)
    assert_whole_reply(
        client.models.generate_content(model=MODEL, contents=PROMPT, config=config())
    )
    chunks = list(
        client.models.generate_content_stream(model=MODEL, contents=PROMPT, config=config())
    )
    assert_stream_ends_well(chunks)


def test_express_mode_with_an_api_key(auth_server: Server) -> None:
    client = genai.Client(
        vertexai=True, api_key=api_key(auth_server), http_options=options(auth_server)
    )
    assert_whole_reply(
        client.models.generate_content(model=MODEL, contents=PROMPT, config=config())
    )
    wrong = genai.Client(vertexai=True, api_key="not-a-key", http_options=options(auth_server))
    with pytest.raises(errors.ClientError) as refused:
        wrong.models.generate_content(model=MODEL, contents=PROMPT, config=config())
    assert (refused.value.code, refused.value.status) == (401, "UNAUTHENTICATED")


def test_api_key_of_another_project(auth_server: Server) -> None:
    """A key opens its own project's URLs only (raw HTTP: the SDK never sends a key and a
    project together)."""
    secret = api_key(auth_server, "another-project")
    reply = httpx.post(
        f"{auth_server.url}/v1beta1/projects/{KEY_PROJECT}/locations/{LOCATION}"
        f"/publishers/google/models/{MODEL}:generateContent",
        json={"contents": user_says(PROMPT), "generationConfig": {"maxOutputTokens": 4}},
        headers={"x-goog-api-key": secret},
        timeout=300,
    )
    assert reply.status_code == 403, reply.text
    assert reply.json()["error"]["status"] == "PERMISSION_DENIED"
