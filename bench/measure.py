"""Client side of the bench: stream one chat completion and time it.

Both servers get the same body and are timed the same way, so their numbers can
be set side by side. Tokens come from the final `usage` chunk, which both send
when asked with `stream_options.include_usage`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

MODEL = "google/gemini-2.0-flash-001"  # openvertex checks it; llama.cpp ignores it
LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
# A schema whose reply is longer than any here (40 lines at least): every token is
# grammar-checked. llama.cpp's server cannot build a grammar for a huge minLength, so the
# length comes from minItems, which both servers accept.
STORY_SCHEMA = {
    "type": "object",
    "properties": {"lines": {"type": "array", "items": {"type": "string"}, "minItems": 40}},
    "required": ["lines"],
    "additionalProperties": False,
}
STORY_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "Story", "schema": STORY_SCHEMA, "strict": True},
}


# A function whose call is as long as the story reply: every argument token is grammar-checked.
STORY_TOOL = {
    "type": "function",
    "function": {
        "name": "publish_story",
        "description": "Publish a story",
        "parameters": STORY_SCHEMA,
    },
}


def chat_body(prompt: str, max_tokens: int) -> dict[str, Any]:
    """The request both servers get: greedy and seeded, so they generate the same text."""
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 42,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@dataclass(frozen=True)
class Stream:
    """Timestamps (time.perf_counter) and token counts of one streamed completion."""

    sent: float
    first: float  # first chunk with non-empty content
    done: float  # chunk with a finish_reason
    prompt_tokens: int
    completion_tokens: int
    longest_gap_ms: float = 0.0  # the longest wait between two chunks after the first
    times: tuple[float, ...] = ()  # when each chunk with content arrived
    text: str = ""

    def rate_between(self, start: float, end: float) -> float:
        """Chunks with content per second within [start, end): a rate over a window that
        another stream shares (a chunk is a token, or the few a draft let through)."""
        return sum(1 for t in self.times if start <= t < end) / max(end - start, 1e-9)

    @property
    def ttft_ms(self) -> float:
        return (self.first - self.sent) * 1000

    @property
    def decode_rate(self) -> float:
        """Tokens after the first over the time after the first: decode speed, no prefill."""
        return (self.completion_tokens - 1) / max(self.done - self.first, 1e-9)


async def stream_chat(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Stream:
    """POST a streaming chat completion and read it to the end."""
    sent = last = time.perf_counter()
    first = done = longest = 0.0
    usage: dict[str, Any] = {}
    times: list[float] = []
    text: list[str] = []
    async with client.stream("POST", url, json=body) as reply:
        if reply.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {reply.status_code}: {(await reply.aread())[:300]!r}")
        async for line in reply.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            now = time.perf_counter()
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"{url}: {chunk['error']}")
            for choice in chunk.get("choices") or []:
                if first:
                    longest = max(longest, now - last)
                last = now
                if content := (choice.get("delta") or {}).get("content"):
                    first = first or now
                    times.append(now)
                    text.append(content)
                if choice.get("finish_reason"):
                    done = now
            usage = chunk.get("usage") or usage
    if not (first and done and usage):
        raise RuntimeError(f"{url}: stream without content, finish_reason or usage")
    tokens = usage["prompt_tokens"], usage["completion_tokens"]
    gap = longest * 1000
    return Stream(sent, first, done, *tokens, gap, tuple(times), "".join(text))


def generate_body(prompt: str, max_tokens: int) -> dict[str, Any]:
    """`chat_body`'s request in Gemini's native shape (streamGenerateContent)."""
    return {
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "generationConfig": {"maxOutputTokens": max_tokens, "temperature": 0, "seed": 42},
    }


async def stream_generate(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Stream:
    """POST `:streamGenerateContent?alt=sse` and read it to the end, timed as `stream_chat`."""
    sent = time.perf_counter()
    first = done = 0.0
    usage: dict[str, Any] = {}
    async with client.stream("POST", url, json=body) as reply:
        if reply.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {reply.status_code}: {(await reply.aread())[:300]!r}")
        async for line in reply.aiter_lines():
            if not line.startswith("data: "):
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"{url}: {chunk['error']}")
            for candidate in chunk.get("candidates") or []:
                parts = (candidate.get("content") or {}).get("parts") or []
                if not first and any(part.get("text") for part in parts):
                    first = time.perf_counter()
                if candidate.get("finishReason"):
                    done = time.perf_counter()
            usage = chunk.get("usageMetadata") or usage
    if not (first and done and usage):
        raise RuntimeError(f"{url}: stream without text, finishReason or usage")
    return Stream(sent, first, done, usage["promptTokenCount"], usage["candidatesTokenCount"])


Streamer = Callable[[httpx.AsyncClient, str, dict[str, Any]], Awaitable[Stream]]


async def concurrent(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    n: int,
    stream: Streamer = stream_chat,
) -> list[Stream]:
    """Start `n` identical streams at once and wait for all of them."""
    return list(await asyncio.gather(*(stream(client, url, body) for _ in range(n))))


async def conversation_turns(
    client: httpx.AsyncClient, url: str, model: str, conversations: int = 4
) -> tuple[float, float]:
    """Median time to first token (ms) of the first turns of several conversations, each
    opening with a long message (about 700 tokens, never seen before), then of their
    second turns, asked in the same order: a server that kept each history reads only
    the new turn."""
    tag = time.time_ns()
    histories, firsts, seconds = [], [], []
    for i in range(conversations):
        boxes = " ".join(f"Box {k} holds {(k * 37 + i) % 100} marbles." for k in range(60))
        text = f"Inventory {tag}-{i}. {boxes}\n\nWhich box holds the most marbles?"
        histories.append([{"role": "user", "content": text}])
    for turn, times in ((1, firsts), (2, seconds)):
        for messages in histories:
            if turn == 2:
                messages.append({"role": "user", "content": "And which holds the fewest?"})
            body = {**chat_body("", 24), "model": model, "messages": messages}
            reply = await stream_chat(client, url, body)
            times.append(reply.ttft_ms)
            messages.append({"role": "assistant", "content": reply.text})
    return statistics.median(firsts), statistics.median(seconds)


def aggregate_rate(streams: list[Stream]) -> float:
    """All decoded tokens (after each first) over the window from first first-token to last end."""
    tokens = sum(s.completion_tokens - 1 for s in streams)
    return tokens / max(max(s.done for s in streams) - min(s.first for s in streams), 1e-9)


@dataclass(frozen=True)
class Thought:
    """One non-streamed reply under a thinking budget."""

    seconds: float
    reasoning_tokens: int
    completion_tokens: int


async def think(client: httpx.AsyncClient, url: str, effort: str, seed: int) -> Thought:
    """A question answered at `reasoning_effort`, at Gemini's default temperature."""
    body = {
        "model": "google/gemini-2.5-flash",
        "messages": [{"role": "user", "content": "Why is the sky blue? Answer briefly."}],
        "reasoning_effort": effort,
        "seed": seed,
    }
    sent = time.perf_counter()
    reply = await client.post(url, json=body)
    seconds = time.perf_counter() - sent
    if reply.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {reply.status_code}: {reply.text[:300]}")
    usage = reply.json()["usage"]
    return Thought(
        seconds,
        usage["completion_tokens_details"]["reasoning_tokens"],
        usage["completion_tokens"],
    )


async def completion_rate(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> float:
    """Completion tokens per second of a non-streamed reply, its prompt already cached.

    A first one-token request puts the prompt in llama.cpp's cache, so the timed one
    is (almost) all decoding.
    """
    body = {**body, "stream": False, "stream_options": None}
    await client.post(url, json={**body, "max_tokens": 1})
    sent = time.perf_counter()
    reply = await client.post(url, json=body)
    seconds = time.perf_counter() - sent
    if reply.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {reply.status_code}: {reply.text[:300]}")
    return reply.json()["usage"]["completion_tokens"] / seconds


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
