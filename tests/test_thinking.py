"""Thinking: budgets that hold to the token, Vertex's effort mapping, thoughts shown as Vertex does.

The embedded SmolLM2 was not trained to think: openvertex opens a `<think>`
block for it and closes the block at the budget. Same seed, same reply, so a
reply with thoughts hidden and one with thoughts shown can be compared exactly.
"""

from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest
from conftest import start_server, stop_server
from pydantic import BaseModel

from openvertex.engines.llamacpp.thinking import PROMPTED, markers_for

MODEL = "google/gemini-2.5-flash"
QUESTION = [{"role": "user", "content": "Name a colour of the sky, and say why."}]
BUDGET_HEADER = "x-openvertex-thinking-budget"
VERTEX_EFFORTS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}


def thinking(budget: int, include: bool = False, tag: str | None = None) -> dict:
    google: dict = {"thinking_config": {"thinking_budget": budget, "include_thoughts": include}}
    if tag:
        google["thought_tag_marker"] = tag
    return {"google": google}


def split_tagged(content: str, tag: str) -> tuple[str, str]:
    """(thoughts, answer) of content shown as `<tag>thoughts</tag>answer`.

    Thinking that produced no text (a one-token budget spent on the end of turn)
    shows no block at all.
    """
    if not content.startswith(f"<{tag}>"):
        return "", content
    thoughts, answer = content.removeprefix(f"<{tag}>").split(f"</{tag}>", 1)
    return thoughts, answer


@pytest.mark.parametrize("budget", [0, 1, 16, 64, 1024])
def test_budget_holds_on_every_reply(client: openai.OpenAI, budget: int) -> None:
    answer_room = 160
    choices = 4 if budget == 1024 else 8
    seeds = [0] if budget == 1024 else [0, 100]
    for seed in seeds:
        reply = client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            n=choices,
            seed=seed,
            temperature=1.0,
            max_tokens=budget + answer_room,
            extra_body=thinking(budget, include=True, tag="t"),
        )
        for choice in reply.choices:
            content = choice.message.content or ""
            if budget == 0:
                assert "<t>" not in content
                answer = content
            else:
                _, answer = split_tagged(content, "t")
            assert answer.strip(), f"no answer after the thoughts: {content!r}"
            assert choice.finish_reason in ("stop", "length")
        # usage sums the choices; with n choices each spent at most `budget`.
        usage = reply.usage
        assert usage.completion_tokens_details.reasoning_tokens <= budget * choices
        if budget:
            assert usage.completion_tokens_details.reasoning_tokens > 0
        assert usage.completion_tokens <= choices * (budget + answer_room)


@pytest.mark.parametrize("budget", [1, 16, 64])
def test_budget_holds_per_reply(client: openai.OpenAI, budget: int) -> None:
    """One choice per request, so the reasoning count is that reply's own."""
    for seed in range(6):
        reply = client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            seed=seed,
            max_tokens=budget + 64,
            extra_body=thinking(budget),
        )
        reasoning = reply.usage.completion_tokens_details.reasoning_tokens
        assert 0 < reasoning <= budget
        assert reply.usage.completion_tokens > reasoning  # an answer follows
        assert reply.choices[0].message.content.strip()


@pytest.mark.parametrize("effort", list(VERTEX_EFFORTS))
def test_reasoning_effort_maps_to_vertex_budgets(client: openai.OpenAI, effort: str) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=QUESTION, reasoning_effort=effort, max_tokens=12, seed=1
    )
    assert raw.headers[BUDGET_HEADER] == str(VERTEX_EFFORTS[effort])
    reasoning = raw.parse().usage.completion_tokens_details.reasoning_tokens
    if effort == "none":
        assert reasoning == 0
    else:
        assert reasoning == 12  # max_tokens bounds thoughts and answer together
        assert raw.parse().choices[0].finish_reason == "length"


def test_no_effort_means_the_models_default(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=QUESTION, max_tokens=20
    )
    assert BUDGET_HEADER not in raw.headers
    assert raw.parse().usage.completion_tokens_details.reasoning_tokens == 0


def test_dynamic_budget_thinks(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=QUESTION, seed=2, max_tokens=300, extra_body=thinking(-1)
    )
    assert reply.usage.completion_tokens_details.reasoning_tokens > 0


@pytest.mark.parametrize("tag", [None, "think", "thought"])
def test_thoughts_shown_only_when_asked(client: openai.OpenAI, tag: str | None) -> None:
    def content(include: bool) -> str:
        reply = client.chat.completions.create(
            model=MODEL,
            messages=QUESTION,
            seed=11,
            temperature=1.0,  # at SmolLM2's default 0.2 the answer repeats the thoughts
            max_tokens=120,
            extra_body=thinking(24, include=include, tag=tag),
        )
        assert reply.usage.completion_tokens_details.reasoning_tokens > 0
        return reply.choices[0].message.content

    hidden, shown = content(False), content(True)
    if tag:
        thoughts, answer = split_tagged(shown, tag)
        assert answer == hidden
    else:
        assert shown.endswith("\n\n" + hidden)  # untagged: thoughts, a blank line, the answer
        thoughts = shown.removesuffix("\n\n" + hidden)
    assert thoughts.strip()
    assert thoughts not in hidden


@pytest.mark.parametrize("tag", [None, "t"])
def test_streamed_thoughts_come_first_and_flagged(client: openai.OpenAI, tag: str | None) -> None:
    request = dict(
        model=MODEL,
        messages=QUESTION,
        seed=5,
        max_tokens=100,
        extra_body=thinking(20, include=True, tag=tag),
    )
    whole = client.chat.completions.create(**request).choices[0].message.content
    stream = client.chat.completions.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    flagged, answer, order = [], [], []
    usage = None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            extra = choice.delta.model_extra.get("extra_content")
            if extra is not None:
                assert extra == {"google": {"thought": True}}
                flagged.append(choice.delta.content)
                order.append("thought")
            elif choice.delta.content:
                answer.append(choice.delta.content)
                order.append("answer")
    assert order and order[0] == "thought"
    assert order == sorted(order, key=lambda kind: kind == "answer")  # all thoughts first
    assert "".join(flagged) + "".join(answer) == whole
    if tag:
        assert "".join(flagged).startswith(f"<{tag}>") and flagged[-1] == f"</{tag}>"
    assert 0 < usage.completion_tokens_details.reasoning_tokens <= 20


def test_hidden_thoughts_are_not_streamed_but_counted(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        seed=5,
        max_tokens=100,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=thinking(20),
    )
    chunks = list(stream)
    deltas = [c.delta for chunk in chunks for c in chunk.choices]
    assert not any("extra_content" in (d.model_extra or {}) for d in deltas)
    assert 0 < chunks[-1].usage.completion_tokens_details.reasoning_tokens <= 20


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


def test_thoughts_are_free_and_the_answer_constrained(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Extract the event information."},
        {"role": "user", "content": "John and Susan are going to an AI conference on Friday."},
    ]
    schema = CalendarEvent.model_json_schema()
    for seed in range(4):
        reply = client.chat.completions.create(
            model=MODEL,
            messages=messages,
            seed=seed,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "CalendarEvent", "schema": schema, "strict": True},
            },
            extra_body=thinking(48, include=True, tag="t"),
        )
        thoughts, answer = split_tagged(reply.choices[0].message.content, "t")
        assert thoughts.strip()
        if reply.choices[0].finish_reason == "stop":
            jsonschema.validate(json.loads(answer), schema)
    parsed = client.beta.chat.completions.parse(
        model=MODEL,
        messages=messages,
        response_format=CalendarEvent,
        reasoning_effort="low",
        seed=3,
    )
    assert 0 < parsed.usage.completion_tokens_details.reasoning_tokens <= 1024
    assert isinstance(parsed.choices[0].message.parsed, CalendarEvent)


@pytest.mark.parametrize(
    ("extra", "param", "words"),
    [
        ({"reasoning_effort": "low", **thinking(64)}, "reasoning_effort", "together"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort", "none, minimal, low, medium, high"),
        ({"reasoning_effort": 3}, "reasoning_effort", "string"),
        (thinking(-2), "google.thinking_config.thinking_budget", "-1"),
        ({"google": {"thinking_config": {"thinking_budget": "x"}}}, "thinking_budget", "integer"),
        ({"google": {"thinking_config": {"include_thoughts": "y"}}}, "include_thoughts", "bool"),
        ({"google": {"thought_tag_marker": "<b>"}}, "thought_tag_marker", "pattern"),
    ],
)
def test_bad_thinking_requests_are_refused(server, extra: dict, param: str, words: str) -> None:
    reply = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": QUESTION, **extra},
        timeout=30,
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert param in (error["param"] or "")
    assert words in error["message"]


def test_effort_mapping_is_configurable_per_model(tmp_path) -> None:
    config = tmp_path / "openvertex.toml"
    config.write_text('[model_effort_budgets]\n"google/gemini-2.5-pro" = { low = 8, high = 32 }\n')
    srv = start_server(tmp_path, "--no-auth", "--parallel", "1", "--config", str(config))
    try:
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="-", max_retries=0, timeout=120)

        def ask(model: str, effort: str) -> httpx.Response:
            return client.chat.completions.with_raw_response.create(
                model=model, messages=QUESTION, reasoning_effort=effort, max_tokens=40, seed=0
            )

        pro = ask("gemini-2.5-pro", "low")
        assert pro.headers[BUDGET_HEADER] == "8"
        assert 0 < pro.parse().usage.completion_tokens_details.reasoning_tokens <= 8
        assert ask("google/gemini-2.5-flash", "low").headers[BUDGET_HEADER] == "1024"
        with pytest.raises(openai.BadRequestError, match="low, high"):
            ask("gemini-2.5-pro", "medium")
    finally:
        stop_server(srv)


def test_thinking_models_keep_their_own_markers() -> None:
    qwen3 = "{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>"
    markers = markers_for(qwen3 + "{{ '<think>' }}...{{ '</think>' }}")
    assert (markers.open, markers.close, markers.native) == ("<think>", "</think>", True)
    assert markers_for("{% for m in messages %}<|im_start|>{% endfor %}") is PROMPTED
