"""Embeddings: openvertex against llama.cpp's own server on the same GGUF, and their quality.

Both embed the 72 sentences of tests/data/embedding_pairs.json, each server alone,
warm. openvertex gets them through Vertex's OpenAI-compatible path with an access
token (it adds nomic's `search_query: ` prefix itself); llama.cpp's server gets the
same texts with the prefix already written, so both do the same work. Agreement is
the share of triples whose anchor is closer to its paraphrase than to its
distractor, per task type and size, through openvertex's API.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import servers

from openvertex.catalog import DEFAULT_EMBEDDING

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "embedding_pairs.json"
TRIPLES = json.loads(PAIRS.read_text())["triples"]
TEXTS = [text for triple in TRIPLES for text in triple]
MODEL = "text-embedding-005"
COLUMNS = ("metric", "openvertex", "llama.cpp", "ratio ov/ref")


def agreement(vectors: np.ndarray) -> float:
    triples = vectors.reshape(len(TRIPLES), 3, -1)
    related = np.einsum("nd,nd->n", triples[:, 0], triples[:, 1])
    unrelated = np.einsum("nd,nd->n", triples[:, 0], triples[:, 2])
    return float(np.mean(related > unrelated))


def timed(call: Callable[[], object], repeats: int) -> float:
    """Median seconds of `call`, after one call to warm up."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_openvertex(threads: int, repeats: int, work: Path) -> dict[str, float]:
    flags = ["--threads", str(threads), "--parallel", "4"]
    with servers.openvertex_server(work, *flags) as (base, data, _):
        headers = servers._google_auth_headers(data / "openvertex-local-key.json")
        scope = f"{base}/v1/projects/openvertex-local/locations/us-central1"
        client = httpx.Client(headers=headers, timeout=600)

        def openai_wire(texts: list[str], **extra: object) -> np.ndarray:
            body = {"model": MODEL, "input": texts, "encoding_format": "float", **extra}
            reply = client.post(f"{scope}/endpoints/openapi/embeddings", json=body)
            reply.raise_for_status()
            return np.asarray([d["embedding"] for d in reply.json()["data"]])

        def predict(task: str) -> np.ndarray:
            body = {"instances": [{"content": t, "task_type": task} for t in TEXTS]}
            url = f"{scope}/publishers/google/models/{MODEL}:predict"
            reply = client.post(url, json=body)
            reply.raise_for_status()
            return np.asarray([p["embeddings"]["values"] for p in reply.json()["predictions"]])

        return {
            "batch_s": timed(lambda: openai_wire(TEXTS), repeats),
            "single_s": timed(lambda: openai_wire(TEXTS[:1]), repeats * 5),
            "agree_query": agreement(openai_wire(TEXTS)),
            "agree_256": agreement(openai_wire(TEXTS, dimensions=256)),
            "agree_similarity": agreement(predict("SEMANTIC_SIMILARITY")),
            "agree_classification": agreement(predict("CLASSIFICATION")),
        }


def measure_reference(threads: int, repeats: int, work: Path) -> dict[str, float]:
    cmd = [
        sys.executable, str(servers.HERE / "llama_server.py"), "--port", str(servers.free_port()),
        "--parallel", "4", "--threads", str(threads), "--context", "2048", "--embedding",
        "--model", DEFAULT_EMBEDDING, "--data-dir", str(work / "embedding-weights"),
    ]  # fmt: skip
    log = work / "llama-embeddings.log"
    with servers.process(cmd, log) as proc:
        base = ""

        def ready() -> bool:
            nonlocal base
            if not base:
                lines = [ln for ln in log.read_text().splitlines() if ln.startswith("http://")]
                base = lines[0].strip() if lines else ""
            return bool(base) and httpx.get(f"{base}/health", timeout=2).status_code == 200

        servers.wait_until(ready, proc, log)
        client = httpx.Client(timeout=600)

        def embed(texts: list[str]) -> None:
            body = {"input": [f"search_query: {t}" for t in texts]}
            client.post(f"{base}/v1/embeddings", json=body).raise_for_status()

        return {
            "batch_s": timed(lambda: embed(TEXTS), repeats),
            "single_s": timed(lambda: embed(TEXTS[:1]), repeats * 5),
        }


def run(
    threads: int, repeats: int, work: Path, log: Callable[[str], None]
) -> list[tuple[str, ...]]:
    ov = measure_openvertex(threads, repeats, work)
    log("embeddings: openvertex done")
    ref = measure_reference(threads, repeats, work)
    log("embeddings: llama.cpp done")
    rate_ov, rate_ref = len(TEXTS) / ov["batch_s"], len(TEXTS) / ref["batch_s"]
    ms_ov, ms_ref = ov["single_s"] * 1000, ref["single_s"] * 1000
    n = len(TRIPLES)
    return [
        (f"texts/s, {len(TEXTS)} per request", f"{rate_ov:.1f}", f"{rate_ref:.1f}",
         f"{rate_ov / rate_ref:.2f}"),
        ("one short text, ms", f"{ms_ov:.1f}", f"{ms_ref:.1f}", f"{ms_ov / ms_ref:.2f}"),
        (f"agreement on {n} triples: RETRIEVAL_QUERY (default), 768 dims",
         f"{ov['agree_query']:.2f}", "", ""),
        ("agreement: RETRIEVAL_QUERY, 256 dims (Matryoshka cut)", f"{ov['agree_256']:.2f}", "", ""),
        ("agreement: SEMANTIC_SIMILARITY", f"{ov['agree_similarity']:.2f}", "", ""),
        ("agreement: CLASSIFICATION", f"{ov['agree_classification']:.2f}", "", ""),
    ]  # fmt: skip
