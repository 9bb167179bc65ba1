"""Every request parameter does what it says, on the real model."""

from __future__ import annotations

import openai
import pytest
from conftest import MODEL

HI = [{"role": "user", "content": "Write a short story about a cat."}]


def ask(client: openai.OpenAI, **kwargs):
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("messages", HI)
    return client.chat.completions.create(**kwargs)


def test_max_tokens_truncates_with_length(client):
    reply = ask(client, max_tokens=5)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5


def test_max_completion_tokens_is_an_alias(client):
    reply = ask(client, max_completion_tokens=7)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 7


def test_natural_end_is_stop(client):
    reply = ask(
        client, messages=[{"role": "user", "content": "Say hello."}], temperature=0, max_tokens=300
    )
    assert reply.choices[0].finish_reason == "stop"
    assert 0 < reply.usage.completion_tokens < 300


def test_stop_sequence_really_stops(client):
    full = ask(client, temperature=0, max_tokens=40).choices[0].message.content
    words = full.split()
    stop_word = words[len(words) // 2]
    cut = ask(client, temperature=0, max_tokens=40, stop=[stop_word, "\u2603"])
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == full[: full.index(stop_word)]
    single = ask(client, temperature=0, max_tokens=40, stop=stop_word)
    assert single.choices[0].message.content == cut.choices[0].message.content


def test_seed_reproduces_and_differs(client):
    first = ask(client, seed=1234, temperature=1.0, max_tokens=24).choices[0].message.content
    again = ask(client, seed=1234, temperature=1.0, max_tokens=24).choices[0].message.content
    assert first == again
    others = {
        ask(client, seed=s, temperature=1.0, max_tokens=24).choices[0].message.content
        for s in (1, 2, 3)
    }
    assert others - {first}, "different seeds should not all give the same text"


def test_temperature_zero_is_deterministic(client):
    texts = {ask(client, temperature=0, max_tokens=16).choices[0].message.content for _ in range(2)}
    assert len(texts) == 1


def test_tiny_top_p_is_greedy(client):
    greedy = ask(client, temperature=0, max_tokens=16).choices[0].message.content
    nucleus = ask(client, temperature=1.5, top_p=1e-6, max_tokens=16, seed=7)
    assert nucleus.choices[0].message.content == greedy


@pytest.mark.parametrize("penalty", ["presence_penalty", "frequency_penalty"])
def test_penalties_change_the_output(client, penalty):
    base = ask(client, temperature=0, max_tokens=48).choices[0].message.content
    penalised = ask(client, temperature=0, max_tokens=48, **{penalty: 2.0})
    assert penalised.choices[0].message.content != base


def test_n_gives_distinct_choices_and_counts_each(client):
    reply = ask(client, n=3, max_tokens=10, seed=99, temperature=1.0)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" for c in reply.choices)
    assert reply.usage.completion_tokens == 30
    assert len({c.message.content for c in reply.choices}) > 1
    again = ask(client, n=3, max_tokens=10, seed=99, temperature=1.0)
    assert [c.message.content for c in again.choices] == [c.message.content for c in reply.choices]


def test_logprobs_cover_every_token(client):
    reply = ask(client, max_tokens=8, logprobs=True, top_logprobs=3, temperature=0)
    choice = reply.choices[0]
    tokens = choice.logprobs.content
    assert len(tokens) == reply.usage.completion_tokens == 8
    assert "".join(t.token for t in tokens) == choice.message.content
    for t in tokens:
        assert t.logprob <= 0
        assert len(t.top_logprobs) == 3
        assert t.bytes == list(t.token.encode())
    assert ask(client, max_tokens=4).choices[0].logprobs is None


def test_logprobs_without_top(client):
    reply = ask(client, max_tokens=4, logprobs=True)
    assert all(t.top_logprobs == [] for t in reply.choices[0].logprobs.content)


def test_usage_counts_the_prompt(client):
    system = {"role": "system", "content": "You are terse."}
    short = ask(client, max_tokens=1, messages=[system, *HI]).usage.prompt_tokens
    longer = ask(
        client,
        max_tokens=1,
        messages=[
            system,
            {"role": "developer", "content": "Answer in English."},
            *HI,
        ],
    ).usage.prompt_tokens
    assert 0 < short < longer
    usage = ask(client, max_tokens=3).usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_text_parts_equal_plain_content(client):
    plain = ask(client, temperature=0, max_tokens=12)
    parts = ask(
        client,
        temperature=0,
        max_tokens=12,
        messages=[{"role": "user", "content": [{"type": "text", "text": HI[0]["content"]}]}],
    )
    assert parts.choices[0].message.content == plain.choices[0].message.content
    assert parts.usage.prompt_tokens == plain.usage.prompt_tokens


def test_every_role_in_a_conversation(client):
    reply = ask(
        client,
        max_tokens=8,
        user="user-123",
        messages=[
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
            {"role": "assistant", "content": "It is sunny."},
            {"role": "user", "content": "Thanks!"},
        ],
    )
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage.prompt_tokens > 40


async def test_async_client(aclient):
    reply = await aclient.chat.completions.create(model=MODEL, messages=HI, max_tokens=6)
    assert reply.choices[0].message.content
    assert reply.model == MODEL
