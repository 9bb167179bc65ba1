"""The model listing, each served name, and the health probes."""

from __future__ import annotations

import httpx
import openai
import pytest
from conftest import Server

from openvertex.catalog import resolve_model_path
from openvertex.config import EMBEDDING_MODEL_NAMES, VERTEX_MODEL_NAMES
from openvertex.serving.gemini_models import FAMILIES

# The names, then the families they stand for (every new Gemini name of a tier).
SERVED = VERTEX_MODEL_NAMES + [f"google/{family}" for family in FAMILIES]


def test_list_models(client: openai.OpenAI, plain_client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == SERVED + EMBEDDING_MODEL_NAMES
    assert [m.id for m in plain_client.models.list()] == SERVED + EMBEDDING_MODEL_NAMES


@pytest.mark.parametrize("prefix", ["/v1", "/v1/projects/p/locations/l/endpoints/openapi"])
def test_cards_say_what_runs_underneath(server: Server, prefix: str) -> None:
    response = httpx.get(f"{server.url}{prefix}/models")
    assert response.status_code == 200
    listing = response.json()
    assert listing["object"] == "list"
    assert [card["id"] for card in listing["data"]] == SERVED + EMBEDDING_MODEL_NAMES
    for card in listing["data"][: len(SERVED)]:
        assert card["object"] == "model"
        underneath = card["openvertex"]
        assert "llama.cpp" in underneath["backend"]
        assert underneath["weights"] == resolve_model_path(None).name
        assert "smollm2" in underneath["weights"].lower()
        assert underneath["weights"].endswith(".gguf")
        assert underneath["input_modalities"] == ["text", "image", "audio"]
        assert set(underneath["media_input"]) == {"image", "audio"}  # read for it, not by it
        assert underneath["context_window"] == 4096


@pytest.mark.parametrize("name", ["google/gemini-2.5-flash", "gemini-2.5-flash"])
def test_retrieve_model(client: openai.OpenAI, name: str) -> None:
    card = client.models.retrieve(name)
    assert card.id == "google/gemini-2.5-flash"
    assert card.model_extra["openvertex"]["input_modalities"] == ["text", "image", "audio"]


def test_retrieve_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("google/gemini-1.0-ultra")
    assert caught.value.param == "model"
    assert caught.value.body["status"] == "NOT_FOUND"


@pytest.mark.parametrize("name", SERVED + [n.removeprefix("google/") for n in SERVED])
def test_chat_with_each_served_name(client: openai.OpenAI, name: str) -> None:
    reply = client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert reply.model == name
    assert reply.choices[0].finish_reason in ("stop", "length")


def test_healthz(server: Server) -> None:
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz(server: Server) -> None:
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
