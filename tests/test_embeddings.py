"""Embeddings on both wires, from the embedded nomic-embed-text-v1.5: shapes, options, quality.

The session server loads the embedding model on the first embedding request.
Embeddings involve no sampling, so the quality check is exact: on the triples in
`data/embedding_pairs.json`, each anchor is closer to its paraphrase than to a
distractor that shares its words.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from conftest import (
    LOCATION,
    MODEL,
    PROJECT,
    Server,
    ledger_row,
    metric_samples,
    metric_value,
)
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

EMBEDDER = "text-embedding-005"
TRIPLES = json.loads((Path(__file__).parent / "data" / "embedding_pairs.json").read_text())[
    "triples"
]


@pytest.fixture(scope="module")
def native(server: Server) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(token="x"),
        http_options=types.HttpOptions(base_url=server.url, timeout=120_000),
    )


def unit(vectors: list[list[float]]) -> np.ndarray:
    array = np.asarray(vectors)
    assert np.allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-4)
    return array


def test_openai_sdk_floats_and_base64(client: openai.OpenAI) -> None:
    texts = ["The cat sat on the mat.", "A feline rested on the rug."]
    # The SDK asks for base64 unless told otherwise, and decodes it itself.
    packed = client.embeddings.create(model=EMBEDDER, input=texts)
    floats = client.embeddings.create(model=EMBEDDER, input=texts, encoding_format="float")
    assert [d.index for d in packed.data] == [0, 1]
    decoded, plain = ([d.embedding for d in r.data] for r in (packed, floats))
    assert np.allclose(unit(decoded), unit(plain), atol=1e-6)
    assert len(floats.data[0].embedding) == 768
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > 2 * 4
    one = client.embeddings.create(model=EMBEDDER, input=texts[0], encoding_format="float")
    assert np.allclose(one.data[0].embedding, floats.data[0].embedding, atol=1e-5)


def test_dimensions_cut_a_matryoshka_vector(server: Server) -> None:
    base = f"{server.url}/v1beta1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi"
    beta = openai.OpenAI(base_url=base, api_key="any", max_retries=0)
    texts = [t for triple in TRIPLES[:4] for t in triple]
    full = unit([d.embedding for d in beta.embeddings.create(model=EMBEDDER, input=texts).data])
    short = beta.embeddings.create(model=EMBEDDER, input=texts, dimensions=256).data
    cut = unit([d.embedding for d in short])
    assert cut.shape == (12, 256)
    # The short vectors keep the ranking: anchors stay closest to their paraphrases.
    for vectors in (full, cut):
        sims = vectors @ vectors.T
        assert all(sims[i, i + 1] > sims[i, i + 2] for i in range(0, 12, 3))


def test_related_sentences_score_higher(client: openai.OpenAI) -> None:
    texts = [t for triple in TRIPLES for t in triple]
    reply = client.embeddings.create(model=EMBEDDER, input=texts, encoding_format="float")
    vectors = unit([d.embedding for d in reply.data]).reshape(len(TRIPLES), 3, -1)
    related = np.einsum("nd,nd->n", vectors[:, 0], vectors[:, 1])
    unrelated = np.einsum("nd,nd->n", vectors[:, 0], vectors[:, 2])
    agreement = float(np.mean(related > unrelated))
    assert agreement >= 0.9, (agreement, related - unrelated)


def test_google_genai_predict(native: genai.Client) -> None:
    """text-embedding-* goes to `:predict`, with Vertex's task type, title and options."""
    config = types.EmbedContentConfig(
        task_type="RETRIEVAL_DOCUMENT", title="Trains", output_dimensionality=64
    )
    texts = ["The train to Boston leaves at seven.", "Second"]
    reply = native.models.embed_content(model=EMBEDDER, contents=texts, config=config)
    assert [len(e.values) for e in reply.embeddings] == [64, 64]
    assert reply.embeddings[0].statistics.token_count > reply.embeddings[1].statistics.token_count
    assert reply.embeddings[0].statistics.truncated is False
    assert reply.metadata.billable_character_count == sum(map(len, texts))


def test_google_genai_embed_content_and_batch(native: genai.Client) -> None:
    """gemini-embedding-* goes to `:embedContent` for one text, `:batchEmbedContents` for more."""
    text = "The train to Boston leaves at seven."
    query = types.EmbedContentConfig(task_type="RETRIEVAL_QUERY")
    one = native.models.embed_content(model="gemini-embedding-001", contents=text, config=query)
    assert len(one.embeddings) == 1 and len(one.embeddings[0].values) == 768
    batch = native.models.embed_content(model="gemini-embedding-001", contents=[text, "Hi"])
    assert len(batch.embeddings) == 2
    assert np.allclose(batch.embeddings[0].values, one.embeddings[0].values, atol=1e-5)
    # The task is compiled into the model's own prefix: a document reads differently.
    document = types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT")
    doc = native.models.embed_content(model="gemini-embedding-001", contents=text, config=document)
    assert not np.allclose(doc.embeddings[0].values, one.embeddings[0].values, atol=1e-3)


def test_long_texts_are_cut_or_refused(native: genai.Client) -> None:
    long = "word " * 3000
    reply = native.models.embed_content(model=EMBEDDER, contents=long)
    assert reply.embeddings[0].statistics.truncated is True
    assert reply.embeddings[0].statistics.token_count == 2048
    strict = types.EmbedContentConfig(auto_truncate=False)
    with pytest.raises(errors.ClientError) as caught:
        native.models.embed_content(model=EMBEDDER, contents=long, config=strict)
    assert caught.value.code == 400 and "2048" in caught.value.message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": EMBEDDER, "input": [[1, 2, 3]]}, "input"),
        ({"model": EMBEDDER, "input": "x", "dimensions": 1000}, "outputDimensionality"),
        ({"model": EMBEDDER, "input": []}, "input"),
        ({"model": EMBEDDER, "input": ["x"] * 251}, "input[250]"),
        ({"model": MODEL, "input": "x"}, "model"),
    ],
)
def test_openai_wire_refusals(server: Server, body: dict, param: str) -> None:
    reply = httpx.post(f"{server.url}/v1/embeddings", json=body, timeout=60)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] in (param, "dimensions")


def test_generation_on_an_embedding_model_is_refused(
    client: openai.OpenAI, native: genai.Client
) -> None:
    with pytest.raises(openai.BadRequestError, match="embedding model"):
        client.chat.completions.create(model=EMBEDDER, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(errors.ClientError, match="embedding model"):
        native.models.generate_content(model=EMBEDDER, contents="x")


def test_embedding_tokens_are_ledgered_and_counted(server: Server, client: openai.OpenAI) -> None:
    def counted() -> float:
        samples = metric_samples(server)
        return metric_value(samples, "openvertex_tokens_total", model=EMBEDDER, kind="prompt")

    before = counted()
    reply = client.embeddings.create(model=EMBEDDER, input=["ledger me", "and me"])
    row = ledger_row(server, reply._request_id)
    assert counted() - before == reply.usage.prompt_tokens
    assert row["model"] == EMBEDDER
    assert row["prompt_tokens"] == reply.usage.prompt_tokens
    assert row["completion_tokens"] == 0


def test_the_listing_says_what_embeds(server: Server) -> None:
    cards = httpx.get(f"{server.url}/v1/models", timeout=10).json()["data"]
    card = next(c for c in cards if c["id"] == EMBEDDER)["openvertex"]
    assert card["weights"].startswith("nomic-embed-text-v1.5")
    assert card["output_modalities"] == ["embedding"]
    assert card["input_modalities"] == ["text"]
