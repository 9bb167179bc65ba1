"""Server-sent events: their shape, concurrency, and cancellation on disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

import httpx
import psutil
from conftest import MODEL

STORY = [{"role": "user", "content": "Write a long story about a dragon."}]


def test_stream_shape(client):
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=STORY,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    first, *middle, finish, usage = chunks
    assert first.choices[0].delta.role == "assistant"
    assert all(c.choices[0].finish_reason is None for c in [first, *middle])
    assert all(c.choices[0].delta.content for c in middle)
    assert finish.choices[0].finish_reason == "length"
    assert usage.choices == [] and usage.usage.completion_tokens == 12
    assert len({c.id for c in chunks}) == 1
    assert all(c.model == MODEL for c in chunks)


def test_stream_equals_non_stream(client):
    args = dict(model=MODEL, messages=STORY, max_tokens=20, temperature=0)
    whole = client.chat.completions.create(**args).choices[0].message.content
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(**args, stream=True)
        if c.choices
    )
    assert streamed == whole


def test_stream_without_usage_ends_with_finish(server):
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": STORY,
            "max_tokens": 4,
            "stream": True,
        },
        timeout=60,
    ) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in reply.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "length"
    assert "usage" not in last


def test_stream_n_choices(client):
    seen: dict[int, list[str]] = {0: [], 1: []}
    finishes = {}
    for chunk in client.chat.completions.create(
        model=MODEL, messages=STORY, max_tokens=6, n=2, stream=True
    ):
        for choice in chunk.choices:
            seen[choice.index].append(choice.delta.content or "")
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert finishes == {0: "length", 1: "length"}
    assert all("".join(parts) for parts in seen.values())


async def test_concurrent_streams_are_decoded_together(aclient):
    """Four streams overlap in time: every one starts before any one ends."""

    async def one() -> tuple[float, float]:
        stream = await aclient.chat.completions.create(
            model=MODEL, messages=STORY, max_tokens=48, stream=True
        )
        first = last = 0.0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.monotonic()
                last = time.monotonic()
        return first, last

    spans = await asyncio.gather(*(one() for _ in range(4)))
    assert max(start for start, _ in spans) < min(end for _, end in spans)


def _cpu_seconds(process: psutil.Process, interval: float) -> float:
    """CPU time of the server and its model runners over `interval` (a runner that ends
    meanwhile, an idle model unloading, counts for nothing)."""
    processes = [process, *process.children(recursive=True)]

    def used(p: psutil.Process) -> float:
        try:
            return sum(p.cpu_times()[:2])
        except psutil.NoSuchProcess:
            return 0.0

    before = {p.pid: used(p) for p in processes}
    time.sleep(interval)
    return sum(max(0.0, used(p) - before[p.pid]) for p in processes)


def _wait_for(server, busy: bool) -> None:
    """Wait (up to 10 s) until the server is busy generating, or idle."""
    process = psutil.Process(server.process.pid)
    deadline = time.monotonic() + 10
    while (_cpu_seconds(process, 0.5) > 0.15) != busy:
        state = "start generating" if busy else "stop generating after the client left"
        assert time.monotonic() < deadline, f"the server did not {state}"


# A prompt and seed for which the model writes far past 3000 tokens.
LONG = {"model": MODEL, "messages": STORY, "max_tokens": 3000, "temperature": 1.0, "seed": 5}


def test_disconnect_mid_stream_stops_generation(server, client):
    with httpx.stream(
        "POST", f"{server.url}/v1/chat/completions", json={**LONG, "stream": True}, timeout=60
    ) as reply:
        lines = reply.iter_lines()
        for _ in range(10):
            next(lines)
        _wait_for(server, busy=True)
    _wait_for(server, busy=False)
    assert client.chat.completions.create(model=MODEL, messages=STORY, max_tokens=3).choices


def test_disconnect_while_waiting_for_a_whole_reply(server, client):
    def impatient_client() -> None:
        with contextlib.suppress(httpx.ReadTimeout):
            httpx.post(f"{server.url}/v1/chat/completions", json=LONG, timeout=4)

    waiter = threading.Thread(target=impatient_client)
    waiter.start()
    _wait_for(server, busy=True)
    waiter.join()
    _wait_for(server, busy=False)
    assert client.chat.completions.create(model=MODEL, messages=STORY, max_tokens=3).choices
