"""A conversation's next turn goes back to the slot that holds its history, so the
model reads only what is new; slots never carry a prompt across projects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import LOCATION, MODEL, Server, start_server, stop_server

from openvertex.engines.llamacpp.slots import Slots, shared


def test_shared_beginning() -> None:
    assert shared("abcdef", "abcxyz") == 3
    assert shared("", "abc") == shared("abc", "") == 0
    assert shared("same", "same") == 4
    assert shared("ab", "abcd") == 2


async def test_the_next_turn_goes_back_to_its_conversation() -> None:
    slots = Slots(2)
    async with slots.hold("p", "Tell me about lighthouses.") as a:
        slots.warm(a, "p")
        slots.holds(a, "Tell me about lighthouses. They guide ships.")
    # A new conversation does not push the first one out of its slot.
    async with slots.hold("p", "How do bees make honey?") as b:
        slots.warm(b, "p")
        slots.holds(b, "How do bees make honey? From nectar.")
    assert a != b
    # B's slot was used last, but A's holds A's history.
    async with slots.hold("p", "Tell me about lighthouses. They guide ships. More?") as again:
        assert again == a
    async with slots.hold("other", "Tell me about lighthouses. They guide ships.") as elsewhere:
        assert not slots.warm(elsewhere, "other")  # another project's slot starts cold


@pytest.fixture(scope="module")
def two_slots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("two-slots"), "--parallel", "2", "--no-auth")
    yield server
    stop_server(server)


def _turn(server: Server, messages: list[dict]) -> dict:
    reply = httpx.post(
        f"{server.url}/v1/projects/chats/locations/{LOCATION}/endpoints/openapi/chat/completions",
        json={"model": MODEL, "messages": messages, "max_tokens": 16, "temperature": 0},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_interleaved_conversations_each_read_only_what_is_new(two_slots: Server) -> None:
    topics = ["the history of lighthouses", "how bees make honey"]
    conversations = [
        [{"role": "user", "content": f"Tell me about {topic}. " * 20}] for topic in topics
    ]
    for messages in conversations:  # the first turn of each, one after the other
        reply = _turn(two_slots, messages)
        messages.append(reply["choices"][0]["message"])
        messages.append({"role": "user", "content": "Say more."})
    for messages in conversations:  # then each one's second turn
        usage = _turn(two_slots, messages)["usage"]
        history = usage["prompt_tokens"] - 20  # the new turn is a handful of tokens
        assert usage["prompt_tokens_details"]["cached_tokens"] >= history, usage
