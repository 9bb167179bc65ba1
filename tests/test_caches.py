"""Context caches (Vertex's `cachedContents`) through google-genai's `client.caches`, unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import LOCATION, PROJECT, Server, start_server, stop_server
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials
from services import free_port
from test_auth_flow import FakeClock, serving_in_process

from openvertex.app import create_app
from openvertex.config import load_settings

MODEL = "gemini-2.0-flash"
FACT = "The vault code at the Lisbon office is 4711."
# About 2,100 tokens of a dull document, with one fact in it.
FILLER = " ".join(
    f"Clause {i}: the parties agree to keep records of meeting {i}." for i in range(65)
)
DOCUMENT = f"{FILLER} {FACT} {FILLER}"


def client_for(url: str, project: str = PROJECT) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project=project,
        location=LOCATION,
        credentials=Credentials(token="x"),
        http_options=types.HttpOptions(base_url=url, timeout=300_000),
    )


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Qwen2.5-Coder-0.5B alone, which reads a fact back out of a long prompt."""
    srv = start_server(
        tmp_path_factory.mktemp("caches"), "--model", "qwen2.5-coder-0.5b", "--no-auth"
    )
    yield srv
    stop_server(srv)


def make(client: genai.Client, **config) -> types.CachedContent:
    contents = [types.Content(role="user", parts=[types.Part.from_text(text=DOCUMENT)])]
    return client.caches.create(
        model=MODEL,
        config=types.CreateCachedContentConfig(
            contents=contents,
            system_instruction="Answer from the document, in a few words.",
            display_name="contract",
            **config,
        ),
    )


def test_create_get_list_update_delete(qwen: Server) -> None:
    client = client_for(qwen.url)
    cache = make(client, ttl="600s")
    assert cache.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/cachedContents/")
    assert cache.model.endswith(f"publishers/google/models/{MODEL}")
    assert cache.display_name == "contract"
    assert cache.usage_metadata.total_token_count >= 2048
    assert 590 < (cache.expire_time - cache.create_time).total_seconds() <= 600
    assert client.caches.get(name=cache.name) == cache
    assert cache.name in [c.name for c in client.caches.list()]
    longer = client.caches.update(
        name=cache.name, config=types.UpdateCachedContentConfig(ttl="7200s")
    )
    assert (longer.expire_time - cache.expire_time).total_seconds() > 6000
    client.caches.delete(name=cache.name)
    with pytest.raises(errors.ClientError) as gone:
        client.caches.get(name=cache.name)
    assert gone.value.code == 404


def test_a_question_over_the_cache(qwen: Server) -> None:
    client = client_for(qwen.url)
    cache = make(client)
    config = types.GenerateContentConfig(
        cached_content=cache.name, temperature=0, max_output_tokens=16
    )
    reply = client.models.generate_content(
        model=MODEL, contents="What is the vault code at the Lisbon office?", config=config
    )
    assert "4711" in reply.text
    chunks = client.models.generate_content_stream(
        model=MODEL, contents="What is the vault code? Digits only.", config=config
    )
    assert "4711" in "".join(c.text or "" for c in chunks)
    counted = client.models.count_tokens(
        model=MODEL, contents="What is the vault code?", config=types.CountTokensConfig()
    )
    assert counted.total_tokens < cache.usage_metadata.total_token_count


def test_the_openai_wire_names_a_cache_in_extra_body(qwen: Server) -> None:
    """As Vertex's OpenAI layer takes it: `extra_body={"google": {"cached_content": …}}`."""
    cache = make(client_for(qwen.url))
    client = openai.OpenAI(base_url=qwen.vertex_base, api_key="x", max_retries=0)
    reply = client.chat.completions.create(
        model=f"google/{MODEL}",
        messages=[{"role": "user", "content": "What is the vault code at the Lisbon office?"}],
        temperature=0,
        max_tokens=16,
        extra_body={"google": {"cached_content": cache.name}},
    )
    assert "4711" in reply.choices[0].message.content
    assert reply.usage.prompt_tokens > cache.usage_metadata.total_token_count


def test_vertex_refusals(qwen: Server) -> None:
    client = client_for(qwen.url)
    cache = make(client)
    with pytest.raises(errors.ClientError) as tools_too:
        client.models.generate_content(
            model=MODEL,
            contents="Hi",
            config=types.GenerateContentConfig(cached_content=cache.name, system_instruction="x"),
        )
    assert tools_too.value.code == 400 and "cached content" in tools_too.value.message
    with pytest.raises(errors.ClientError) as other_model:
        client.models.generate_content(
            model="gemini-2.5-flash",
            contents="Hi",
            config=types.GenerateContentConfig(cached_content=cache.name),
        )
    assert other_model.value.code == 400 and "has to be the same" in other_model.value.message
    small = [types.Content(role="user", parts=[types.Part.from_text(text="Too short.")])]
    with pytest.raises(errors.ClientError) as too_small:
        client.caches.create(model=MODEL, config=types.CreateCachedContentConfig(contents=small))
    assert too_small.value.code == 400 and "minimum token count" in too_small.value.message
    another = client_for(qwen.url, project="another")
    with pytest.raises(errors.ClientError) as elsewhere:
        another.caches.get(name=cache.name.rpartition("/")[2])  # in its own project
    assert elsewhere.value.code == 404  # as if it did not exist


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[str, FakeClock]]:
    """A server in this process on a clock the test moves (the embedded model)."""
    clock = FakeClock()
    port = free_port()
    settings = load_settings(
        port=port, data_dir=tmp_path, auth=False, model="smollm2-135m", cache_min_tokens=1
    )
    with serving_in_process(create_app(settings, clock=clock), port) as url:
        yield url, clock


def test_an_expired_cache_is_gone(clocked) -> None:
    url, clock = clocked
    client = client_for(url)
    contents = [types.Content(role="user", parts=[types.Part.from_text(text="A short note.")])]
    cache = client.caches.create(
        model=MODEL, config=types.CreateCachedContentConfig(contents=contents, ttl="60s")
    )
    assert client.caches.get(name=cache.name)
    clock.now += 61
    with pytest.raises(errors.ClientError) as gone:
        client.caches.get(name=cache.name)
    assert gone.value.code == 404
    assert cache.name not in [c.name for c in client.caches.list()]
