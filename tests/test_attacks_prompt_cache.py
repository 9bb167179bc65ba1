"""A project cannot learn another's prompt from the prompt cache.

With one slot, every request runs where the last one ran. A project that repeats
its own prompt is served from the cache (`cached_tokens`); another project sending
the same prompt, a right guess, reads it cold, exactly like a wrong guess.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import LOCATION, MODEL, Server, start_server, stop_server

SECRET = "Customer 4471 owes 1,250 euros for invoice 88-A, due on the 3rd of March. " * 12


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("one-slot"), "--parallel", "1", "--no-auth")
    yield server
    stop_server(server)


def cached_tokens(server: Server, project: str, prompt: str) -> int:
    reply = httpx.post(
        f"{server.url}/v1/projects/{project}/locations/{LOCATION}/endpoints/openapi"
        "/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": prompt}], "max_tokens": 1},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    usage = reply.json()["usage"]
    assert usage["prompt_tokens"] > 200
    return usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)


def test_the_cache_serves_only_its_own_project(one_slot: Server) -> None:
    cached_tokens(one_slot, "victim", SECRET)
    assert cached_tokens(one_slot, "victim", SECRET) > 200  # its own prompt, from the cache
    right_guess = cached_tokens(one_slot, "attacker", SECRET)
    wrong_guess = cached_tokens(one_slot, "attacker", SECRET.replace("4471", "9012"))
    assert right_guess == 0
    assert wrong_guess < 50  # what it shares with its own last prompt, at most
    assert cached_tokens(one_slot, "victim", SECRET) == 0  # the slot is the attacker's now
