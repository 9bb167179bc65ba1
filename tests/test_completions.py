"""The legacy Completions API (`client.completions.create`): the prompt continued as is.

Against the session's server, with the real `openai` SDK, on Vertex's v1 and
v1beta1 paths; a refused request costs no generation, so those run in bulk.
"""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from conftest import LOCATION, MODEL, PROJECT, Server, ledger_row

from openvertex.core.request import GenerationRequest
from openvertex.engines.event_stream import event_lines
from openvertex.engines.upstream.engine import UpstreamEngine
from openvertex.engines.upstream.gemini import GeminiApi
from openvertex.engines.upstream.openai_compat import OpenAICompat
from openvertex.errors import InvalidArgument

COUNTING = "1, 2, 3, 4, 5,"
PROMPTS = ["One, two, three,", "Monday, Tuesday,"]


@pytest.fixture(scope="module", params=["v1", "v1beta1"])
def vertex_client(request: pytest.FixtureRequest, server: Server) -> openai.OpenAI:
    base = f"{server.url}/{request.param}/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi"
    return openai.OpenAI(base_url=base, api_key="any", max_retries=0, timeout=300)


def test_whole_and_streamed(vertex_client: openai.OpenAI) -> None:
    reply = vertex_client.completions.create(model=MODEL, prompt=COUNTING, max_tokens=6)
    assert reply.object == "text_completion" and reply.id.startswith("cmpl-")
    [choice] = reply.choices
    assert choice.text and choice.index == 0 and choice.finish_reason in ("stop", "length")
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 6
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    stream = vertex_client.completions.create(
        model=MODEL, prompt=COUNTING, max_tokens=6, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    assert all(c.object == "text_completion" and c.id == chunks[0].id for c in chunks)
    assert "".join(c.text for chunk in chunks for c in chunk.choices)
    assert [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_max_tokens_defaults_to_16(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=MODEL, prompt="Once upon a time")
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 16


def test_choices_are_numbered_prompt_major(client: openai.OpenAI, server: Server) -> None:
    """Two prompts, two choices each: 0 and 1 continue the first, 2 and 3 the second;
    the request is billed once, with both prompts' tokens."""
    raw = client.completions.with_raw_response.create(
        model=MODEL, prompt=PROMPTS, n=2, max_tokens=4, echo=True, seed=7
    )
    reply = raw.parse()
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    for choice in reply.choices:
        assert choice.text.startswith(PROMPTS[choice.index // 2])
        assert len(choice.text) > len(PROMPTS[choice.index // 2])
    usage = reply.usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    row = ledger_row(server, raw.headers["x-request-id"])
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )

    stream = client.completions.create(
        model=MODEL, prompt=PROMPTS, n=2, max_tokens=4, echo=True, stream=True
    )
    texts = ["", "", "", ""]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
    assert [t.startswith(PROMPTS[i // 2]) for i, t in enumerate(texts)] == [True] * 4


def test_a_stream_left_early_frees_its_slots(client: openai.OpenAI) -> None:
    """Each prompt holds the server's every slot (n=4 on 4); leaving after the first
    chunk must free them all, or the next request would wait for ever."""
    stream = client.completions.create(model=MODEL, prompt=PROMPTS, n=4, max_tokens=64, stream=True)
    next(iter(stream))
    stream.close()
    quick = client.with_options(timeout=60).completions.create(
        model=MODEL, prompt=PROMPTS, n=4, max_tokens=2
    )
    assert len(quick.choices) == 8


def test_logprobs_in_the_legacy_shape(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model=MODEL, prompt=COUNTING, max_tokens=5, logprobs=2, temperature=0
    )
    [choice] = reply.choices
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs
    assert lp.text_offset is not None
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset)
    assert "".join(lp.tokens) == choice.text
    # Offsets count from the start of the prompt; each top holds the sampled token.
    assert lp.text_offset[0] == len(COUNTING)
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        assert logprob <= 0 and 1 <= len(top) <= 3 and top[token] == logprob


def test_stop_sequences(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model=MODEL, prompt=COUNTING, max_tokens=24, stop=[" 8"], temperature=0
    )
    [choice] = reply.choices
    assert choice.finish_reason == "stop" and " 8" not in choice.text and "7" in choice.text


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"suffix": " and that is all."}, "suffix"),
        ({"best_of": 3, "n": 1}, "best_of"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"echo": True, "logprobs": 1}, "echo"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": [[1, 2], [3]]}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"logprobs": 6}, "logprobs"),
    ],
)
def test_what_cannot_be_served_is_a_clear_400(
    client: openai.OpenAI, fields: dict, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(**{"model": MODEL, "prompt": "Hi", "max_tokens": 2, **fields})
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param and error["message"]


def test_unknown_fields_are_ignored(client: openai.OpenAI) -> None:
    reply = client.completions.create(
        model=MODEL, prompt=COUNTING, max_tokens=2, user="u-1", extra_body={"no_such": 1}
    )
    assert reply.choices[0].text


@pytest.mark.parametrize(
    "api", [OpenAICompat("m", "vllm"), GeminiApi("gemini-2.0-flash")], ids=["openai", "gemini"]
)
def test_an_upstream_refuses_a_raw_prompt(api: OpenAICompat | GeminiApi) -> None:
    """Only the embedded engine continues text as is; an upstream says so, before any call."""
    engine = UpstreamEngine(api, ["http://127.0.0.1:9"])
    request = GenerationRequest(model=MODEL, messages=(), prompt="Once upon a time")
    with pytest.raises(InvalidArgument, match="embedded engine only"):
        asyncio.run(engine.check(request))
    asyncio.run(engine.close())


def test_unicode_line_separators_in_the_reply_stream_whole(client) -> None:
    """SmolLM2 continues "x\u2028" with more of the same at temperature 0. llama.cpp writes
    U+2028 raw in its JSON; the stream between openvertex and llama.cpp must split lines at
    line feeds only, or each such token cuts a chunk in two (the fuzz test found it)."""
    prompt = "x\u2028" * 40
    streamed = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=12, temperature=0, stream=True
    )
    text = "".join(chunk.choices[0].text for chunk in streamed if chunk.choices)
    assert "\u2028" in text
    whole = client.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0)
    assert whole.choices[0].text == text


async def test_event_lines_end_only_at_line_feeds() -> None:
    """The reader every engine uses (llama.cpp runners and upstreams): U+2028, U+0085 and
    the other characters `str.splitlines` breaks at stay inside their line."""
    body = 'data: {"text": "a\u2028b\x85c\x1cd"}\r\n\ndata: [DONE]\n\n'.encode()
    response = httpx.Response(200, content=body)
    lines = [line async for line in event_lines(response)]
    assert lines == ['data: {"text": "a\u2028b\x85c\x1cd"}', "", "data: [DONE]", ""]
