"""Function calling on the embedded model: calls forced by grammar always parse and validate.

SmolLM2 was not trained to call tools, so in `auto` mode it answers in text;
`required` and named modes make it call, and whatever it calls is valid.
"""

from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest
from conftest import MODEL


def function(name: str, description: str, parameters: dict) -> dict:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


WEATHER = function(
    "get_weather",
    "Get the current weather in a given location",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. Chicago, IL"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)
ORDER = function(
    "place_order",
    "Order items from the shop",
    {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "vip": {"type": "boolean"}},
                "required": ["name"],
            },
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
                        "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
                    },
                    "required": ["sku", "quantity"],
                    "additionalProperties": False,
                },
                "minItems": 1,
                "maxItems": 5,
            },
            "express": {"type": "boolean"},
        },
        "required": ["customer", "items"],
    },
)
EVENT = function(
    "create_event",
    "Put an event in the calendar",
    {
        "$defs": {
            "person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "email": {"type": ["string", "null"]}},
                "required": ["name", "email"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 60},
            "kind": {"anyOf": [{"const": "meeting"}, {"const": "call"}, {"const": "party"}]},
            "attendees": {"type": "array", "items": {"$ref": "#/$defs/person"}},
            "minutes": {"type": "number", "minimum": 5, "maximum": 480},
        },
        "required": ["title", "kind", "attendees"],
        "additionalProperties": False,
    },
)
TOOLS = [WEATHER, ORDER, EVENT]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
PROMPTS = [
    "What's the weather like in Chicago today?",
    "Is it raining in Paris right now?",
    "How cold is it in Oslo, in celsius?",
    "Tell me the temperature in Austin, TX in fahrenheit.",
    "Do I need an umbrella in London?",
    "Order two ABC-123 for Dana, express please.",
    "I want 3 units of XYZ-999 and one QRS-100, name Lee, VIP customer.",
    "Buy 10 KLM-555 for Sam.",
    "Place an order: customer Ann, item DEF-001, quantity 4.",
    "Ship one GHI-777 to Bob as fast as possible.",
    "Schedule a 30 minute call with Ana (ana@example.com).",
    "Create a party called Summer Bash with Tom and Jerry.",
    "Book a meeting titled Budget review with Kim, 45 minutes.",
    "Set up a call named Sync with Max and Lea.",
    "Add a meeting 'Design crit' with Zoe, two hours.",
    "What's the forecast for Tokyo?",
    "Weather in Cape Town please.",
    "Order five MNO-321 for Carla.",
    "Plan a party for Friday with the whole team: Ann, Bo, Cy.",
    "Is it sunny in Madrid?",
    "Get me 2 PQR-654 and 1 STU-987 for Eve.",
    "Calendar: call with Omar, 15 minutes, title Check-in.",
]


def calls_of(reply) -> list:
    return [call for choice in reply.choices for call in choice.message.tool_calls or []]


def assert_valid(call) -> None:
    assert call.type == "function" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


def test_required_mode_calls_validate_on_every_prompt(client: openai.OpenAI) -> None:
    names = []
    for i, prompt in enumerate(PROMPTS):
        reply = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": prompt}],
            tools=TOOLS,
            tool_choice="required",
            parallel_tool_calls=False,  # one call each keeps 22 prompts quick
            seed=i,
            temperature=1.0,
        )
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        assert choice.message.content is None
        calls = choice.message.tool_calls
        assert calls
        for call in calls:
            assert_valid(call)
        names.append(calls[0].function.name)
    assert set(names) <= set(SCHEMAS)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t["function"]["name"])
def test_named_mode_calls_that_function(client: openai.OpenAI, tool: dict) -> None:
    name = tool["function"]["name"]
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt} for prompt in PROMPTS[:1]],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": name}},
        n=4,
        seed=7,
    )
    for choice in reply.choices:  # exactly one call of it, as OpenAI makes
        assert choice.finish_reason == "tool_calls"
        assert [c.function.name for c in choice.message.tool_calls] == [name]
        assert_valid(choice.message.tool_calls[0])


def test_no_parallel_calls_means_one_call(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris and in Tokyo?"}],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        n=4,
        seed=3,
    )
    assert all(len(choice.message.tool_calls) == 1 for choice in reply.choices)


def test_parallel_calls_streamed_and_not(client: openai.OpenAI) -> None:
    request = dict(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris and in Tokyo?"}],
        tools=[WEATHER],
        tool_choice="required",
        n=4,
        seed=5,
    )
    whole = client.chat.completions.create(**request)
    several = [c.index for c in whole.choices if len(c.message.tool_calls) >= 2]
    assert several, "no choice made parallel calls"
    for choice in whole.choices:
        calls = choice.message.tool_calls
        assert len({c.id for c in calls}) == len(calls)

    with client.chat.completions.stream(**request) as stream:
        firsts: dict[tuple[int, int], str] = {}  # (choice, call index) → name
        for event in stream:
            if event.type != "chunk":
                continue
            for choice in event.chunk.choices:
                for delta in choice.delta.tool_calls or []:
                    key = (choice.index, delta.index)
                    if delta.id:  # a call's first delta names it
                        assert key not in firsts and delta.type == "function"
                        firsts[key] = delta.function.name
                    else:
                        assert key in firsts and delta.function.arguments
        final = stream.get_final_completion()
    # Choices decoded side by side are not bit-identical between two runs: compare shapes.
    assert any(len(c.message.tool_calls) >= 2 for c in final.choices)
    for streamed in final.choices:
        assert streamed.finish_reason == "tool_calls"
        calls = streamed.message.tool_calls
        assert sorted(i for c, i in firsts if c == streamed.index) == list(range(len(calls)))
        assert [c.function.name for c in calls] == [
            firsts[streamed.index, i] for i in range(len(calls))
        ]
        assert len({c.id for c in calls}) == len(calls)
        for call in calls:
            assert_valid(call)


def test_a_call_cut_by_max_tokens_is_not_returned(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS[6]}],
        tools=[ORDER],
        tool_choice="required",
        max_tokens=12,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "length"
    assert not choice.message.tool_calls


def test_tool_choice_none_answers_in_text(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS[0]}],
        tools=TOOLS,
        tool_choice="none",
        max_tokens=40,
    )
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].message.content


def test_auto_mode_answers_in_text_or_valid_calls(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS[0]}],
        tools=TOOLS,
        n=4,
        seed=1,
        max_tokens=80,
    )
    for choice in reply.choices:
        for call in choice.message.tool_calls or []:
            assert_valid(call)
        assert choice.message.tool_calls or choice.message.content


def test_a_full_loop_call_result_answer(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "What's the weather like in Chicago today?"}]
    first = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required", seed=2
    )
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {
            "role": "tool",
            "tool_call_id": call.id,
            "content": json.dumps({"temperature": 31, "unit": "celsius", "sky": "sunny"}),
        },
    ]
    answers = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[WEATHER],
        tool_choice="none",  # the answer now, in words
        n=4,
        seed=2,
        max_tokens=80,
    )
    texts = [c.message.content or "" for c in answers.choices]
    assert any("31" in text or "sunny" in text.lower() for text in texts), texts


def test_legacy_functions(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS[0]}],
        functions=[WEATHER["function"]],
        function_call={"name": "get_weather"},
        seed=4,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.tool_calls is None
    arguments = json.loads(choice.message.function_call.arguments)
    jsonschema.validate(arguments, SCHEMAS["get_weather"])
    follow_up = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": PROMPTS[0]},
            {
                "role": "assistant",
                "content": None,
                "function_call": choice.message.function_call.model_dump(),
            },
            {"role": "function", "name": "get_weather", "content": '{"temperature": 12}'},
        ],
        functions=[WEATHER["function"]],
        function_call="none",  # the answer now, in words
        max_tokens=30,
    )
    assert follow_up.choices[0].message.content


def post(server, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)


USER = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (
            {"tools": [function("f", "", {"type": "object", "properties": {"a": {"type": 7}}})]},
            "tools[0].function.parameters",
            "not valid",
        ),
        (
            {"tools": [function("f", "", {"type": "array"})]},
            "tools[0].function.parameters",
            "object",
        ),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "'nope'",
        ),
        ({"tool_choice": "required"}, "tool_choice", "needs tools"),
        ({"tools": [WEATHER, WEATHER]}, "tools", "unique"),
        ({"tools": [WEATHER], "functions": [WEATHER["function"]]}, "functions", "not both"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "name", "pattern"),
        (
            {"messages": [*USER, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]},
            "messages[1].tool_call_id",
            "no earlier tool call",
        ),
        (
            {"messages": [*USER, {"role": "tool", "content": "1"}]},
            "messages[1].tool_call_id",
            "needs the tool_call_id",
        ),
        (
            {
                "messages": [
                    *USER,
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "[1]"}}],
                    },
                ]
            },
            "messages[1].tool_calls[0].function.arguments",
            "JSON object",
        ),
    ],
)
def test_bad_tool_requests_are_refused(server, body: dict, param: str, words: str) -> None:
    reply = post(server, {"model": MODEL, "messages": USER, **body})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert param in (error["param"] or ""), error
    assert words in error["message"], error


def test_tools_on_a_model_without_tool_support(tmp_path) -> None:
    from conftest import start_server, stop_server

    config = tmp_path / "openvertex.toml"
    config.write_text('models_without_tools = ["google/gemini-2.0-flash-001"]\n')
    srv = start_server(tmp_path, "--no-auth", "--parallel", "1", "--config", str(config))
    try:
        reply = post(srv, {"model": MODEL, "messages": USER, "tools": [WEATHER]})
        assert reply.status_code == 400 and "without tool support" in reply.text
        assert post(srv, {"model": MODEL, "messages": USER, "max_tokens": 4}).status_code == 200
    finally:
        stop_server(srv)
