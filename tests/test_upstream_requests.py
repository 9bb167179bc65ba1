"""What each kind of upstream server is asked, in process: the intent, in its own knobs.

The servers behind these names (vLLM, SGLang on GPUs) cannot run here; their
field names come from their source and are pinned by these tests.
"""

from __future__ import annotations

import pytest

from openvertex.core.request import (
    GenerationRequest,
    JsonOutput,
    LiteralOutput,
    Message,
    Sampling,
    Text,
    Thinking,
    Tool,
    ToolUse,
)
from openvertex.engines.upstream.replies import ReplyReader
from openvertex.engines.upstream.requests import chat_body

PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = Tool("get_weather", "The weather", PARAMETERS)
TAXI = Tool("book_taxi", "A taxi", {"type": "object", "properties": {}})


def request(**fields) -> GenerationRequest:
    messages = (Message("user", (Text("Hi"),)),)
    return GenerationRequest(model="m", messages=messages, **fields)


@pytest.mark.parametrize(
    ("dialect", "budget", "expected"),
    [
        ("vllm", 64, {"chat_template_kwargs": {"enable_thinking": True},
                      "thinking_token_budget": 64}),
        ("vllm", 0, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("llamacpp", 64, {"chat_template_kwargs": {"enable_thinking": True},
                          "thinking_budget_tokens": 64}),
        ("sglang", 64, {"chat_template_kwargs": {"enable_thinking": True}}),
        ("openai", 0, {"reasoning_effort": "none"}),
        ("openai", 1024, {"reasoning_effort": "low"}),
        ("openai", 24576, {"reasoning_effort": "high"}),
        ("openai", -1, {}),
    ],
)  # fmt: skip
def test_thinking_budget_in_each_servers_knob(dialect, budget, expected) -> None:
    body = chat_body(request(thinking=Thinking(budget)), "m", dialect, prompted_tools=False)
    knobs = {"chat_template_kwargs", "thinking_token_budget", "thinking_budget_tokens",
             "reasoning_effort"}  # fmt: skip
    assert {k: v for k, v in body.items() if k in knobs} == expected


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("vllm", {"structured_outputs": {"choice": ["yes", "no"]}}),
        ("llamacpp", {"grammar": 'root ::= "yes" | "no"'}),
        ("sglang", {"regex": "(yes)|(no)"}),
        ("openai", {}),
    ],
)
def test_a_literal_answer_in_each_servers_constraint(dialect, expected) -> None:
    body = chat_body(request(output=LiteralOutput(("yes", "no"))), "m", dialect,
                     prompted_tools=False)  # fmt: skip
    assert {k: body[k] for k in expected} == expected
    assert not {"structured_outputs", "grammar", "regex"} - set(expected) & set(body)


def test_json_schema_is_openais_response_format() -> None:
    body = chat_body(request(output=JsonOutput(PARAMETERS, strict=True, name="Place")), "m",
                     "vllm", prompted_tools=False)  # fmt: skip
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Place", "schema": PARAMETERS, "strict": True},
    }
    free = chat_body(request(output=JsonOutput()), "m", "sglang", prompted_tools=False)
    assert free["response_format"] == {"type": "json_object"}


def test_tools_and_choice() -> None:
    named = ToolUse((WEATHER, TAXI), "required", ("get_weather",))
    body = chat_body(request(tools=named), "m", "vllm", prompted_tools=False)
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    # llama.cpp reads tool_choice as a string: the one tool, required.
    body = chat_body(request(tools=named), "m", "llamacpp", prompted_tools=False)
    assert body["tool_choice"] == "required" and len(body["tools"]) == 1
    none = ToolUse((WEATHER, TAXI), "none", ("get_weather", "book_taxi"))
    assert chat_body(request(tools=none), "m", "openai", prompted_tools=False)["tool_choice"] == (
        "none"
    )


def test_prompted_tools_go_in_the_system_turn() -> None:
    auto = ToolUse((WEATHER,), "auto", ("get_weather",))
    body = chat_body(request(tools=auto), "m", "openai", prompted_tools=True)
    assert "tools" not in body
    assert (
        body["messages"][0]["role"] == "system" and "<tool_call>" in body["messages"][0]["content"]
    )


def test_llguidance_upstreams_get_openvertexs_own_grammar() -> None:
    body = chat_body(request(output=JsonOutput(PARAMETERS)), "m", "llamacpp",
                     prompted_tools=True, llguidance=True)  # fmt: skip
    assert body["grammar"].startswith("%llguidance")
    assert "response_format" not in body and "JSON Schema" in body["messages"][0]["content"]


def test_sampling_and_streaming() -> None:
    sampling = Sampling(temperature=0.2, top_k=5, seed=3, stop=("END",), max_tokens=9)
    body = chat_body(request(sampling=sampling, stream=True), "m", "vllm", prompted_tools=False)
    assert body | {"messages": None} == {
        "model": "m", "messages": None, "temperature": 0.2, "top_k": 5, "seed": 3,
        "stop": ["END"], "max_tokens": 9, "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip
    plain = chat_body(request(sampling=sampling), "m", "openai", prompted_tools=False)
    assert "top_k" not in plain and "stream" not in plain


def test_vllms_prefix_cache_is_salted_per_project() -> None:
    """So one project cannot time or count another's cached prompt; the id itself stays here."""
    bodies = [
        chat_body(request(cache_scope=project), "m", "vllm", prompted_tools=False)
        for project in ("alpha", "alpha", "beta")
    ]
    salts = [body["cache_salt"] for body in bodies]
    assert salts[0] == salts[1] != salts[2] and "alpha" not in salts[0]
    plain = chat_body(request(cache_scope="alpha"), "m", "llamacpp", prompted_tools=False)
    assert "cache_salt" not in plain


def test_a_stream_of_deltas_reads_as_events() -> None:
    """Thoughts from `reasoning_content` or `reasoning`, calls gathered per index."""
    reader = ReplyReader()
    chunks = [
        {"choices": [{"delta": {"reasoning_content": "Hm. "}}]},
        {"choices": [{"delta": {"reasoning": "Paris."}}]},
        {"choices": [{"delta": {"tool_calls": [
            {"index": 0, "id": "a", "function": {"name": "get_weather", "arguments": ""}}]}}]},
        {"choices": [{"delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '{"city": '}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"P"}'}},
                                               {"index": 1, "id": "b",
                                                "function": {"name": "book_taxi"}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9,
                                  "completion_tokens_details": {"reasoning_tokens": 3}}},
    ]  # fmt: skip
    events = [event for chunk in chunks for event in reader.chunk(chunk)] + reader.end()
    names = [type(e).__name__ for e in events]
    assert names == ["ThoughtDelta", "ThoughtDelta", "ToolCall", "ToolCall", "Usage", "Finish"]
    first, second = events[2], events[3]
    assert (first.index, first.id, first.name, first.arguments) == (
        0, "a", "get_weather", '{"city": "P"}'
    )  # fmt: skip
    assert (second.index, second.id, second.arguments) == (1, "b", "{}")
    assert events[4].reasoning_tokens == 3 and events[5].reason == "tool_calls"
