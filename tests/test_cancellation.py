"""A client that goes away, while generating or still waiting in the queue, frees its place."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import (
    MODEL,
    Server,
    ledger,
    metric_samples,
    metric_value,
    start_server,
    stop_server,
)

# A prompt and seed for which the model writes far past 3000 tokens.
STORY = [{"role": "user", "content": "Write a long story about a dragon."}]
LONG = {"model": MODEL, "messages": STORY, "max_tokens": 3000, "seed": 5}


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("one-slot"), "--no-auth", "--parallel", "1")
    yield srv
    stop_server(srv)


def _gauge(server: Server, name: str) -> float:
    return metric_value(metric_samples(server), f"openvertex_{name}")


def _within_a_second(server: Server, name: str, value: float) -> None:
    gone = time.monotonic()
    while _gauge(server, name) != value:
        assert time.monotonic() - gone < 1.0, f"{name} is not {value} a second later"
        time.sleep(0.05)


def _statuses(server: Server) -> list[int]:
    time.sleep(0.2)  # a row is written just after its reply ends
    return [row["status"] for row in ledger(server)]


def test_a_streaming_client_that_leaves_frees_its_slot_within_a_second(one_slot: Server) -> None:
    url = f"{one_slot.url}/v1/chat/completions"
    with httpx.stream("POST", url, json={**LONG, "stream": True}, timeout=60) as reply:
        lines = reply.iter_lines()
        for _ in range(10):
            next(lines)
        assert _gauge(one_slot, "active_slots") == 1
    _within_a_second(one_slot, "active_slots", 0)
    assert _statuses(one_slot)[-1] == 499  # "client closed request", in the ledger


def test_a_client_that_leaves_the_queue_frees_its_place_within_a_second(one_slot: Server) -> None:
    url = f"{one_slot.url}/v1/chat/completions"

    def impatient() -> None:  # waits behind the stream, gives up after 2 s
        with contextlib.suppress(httpx.ReadTimeout):
            httpx.post(url, json={**LONG, "max_tokens": 8}, timeout=2)

    with httpx.stream("POST", url, json={**LONG, "stream": True}, timeout=60) as reply:
        lines = reply.iter_lines()  # kept: a dropped line iterator closes the connection
        next(lines)
        waiter = threading.Thread(target=impatient)
        waiter.start()
        deadline = time.monotonic() + 10
        while _gauge(one_slot, "queue_depth") != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        waiter.join()
        _within_a_second(one_slot, "queue_depth", 0)
        assert _gauge(one_slot, "active_slots") == 1  # the stream still has the slot
        assert _statuses(one_slot)[-1] == 499
    _within_a_second(one_slot, "active_slots", 0)
