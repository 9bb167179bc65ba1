"""n-gram speculation: openvertex with its drafts, without, and llama.cpp's own server.

llama.cpp can draft the next tokens from n-grams it has already seen and check a whole
draft in one batch (`speculative` in a `[[models]]` table; the catalog's chat models use
`ngram-mod`, whose pool learns from every reply). Each server answers the same sequence
of different requests (`sets/speculation.json`): JSON under a schema, code rewritten
with type hints, details extracted from a text, and prose; greedy, one at a time. Every
round starts each server afresh, so no pool carries over from an earlier round, and
within a round the pool learns as it would from a day's traffic.

    python bench/speculation.py [--rounds 2] [--models smollm2-135m,qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import servers
from measure import Stream, chat_body, stream_chat

SETS = Path(__file__).resolve().parent / "sets" / "speculation.json"
KINDS = ("json", "code", "extraction", "prose")
MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b")
COLUMNS = (
    "model",
    "reply",
    "llama.cpp tok/s",
    "openvertex, no drafts",
    "openvertex, ngram-mod",
    "ngram-mod / llama.cpp",
)
STORY_LINES = {
    "type": "object",
    "properties": {"lines": {"type": "array", "items": {"type": "string"}, "minItems": 40}},
    "required": ["lines"],
}


def requests(max_tokens: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, chat completion body) in the order a round asks them."""
    sets = json.loads(SETS.read_text())

    def body(text: str, **extra: Any) -> dict[str, Any]:
        return {**chat_body(text, max_tokens), "model": "google/gemini-2.0-flash", **extra}

    def schema(name: str, value: dict) -> dict[str, Any]:
        return {"type": "json_schema", "json_schema": {"name": name, "schema": value}}

    out = []
    extraction, code = sets["extraction"], sets["code"]
    for text in extraction["texts"]:
        out.append(
            (
                "extraction",
                body(
                    f"{extraction['instruction']}\n\n{text}",
                    response_format=schema("Minutes", extraction["schema"]),
                ),
            )
        )
    for source in code["sources"]:
        out.append(("code", body(f"{code['instruction']}\n\n```python\n{source}```")))
    for kind in ("json", "prose"):
        for topic in sets[kind]["topics"]:
            text = sets[kind]["instruction"].format(topic=topic)
            extra = {"response_format": schema("Story", STORY_LINES)} if kind == "json" else {}
            out.append((kind, body(text, **extra)))
    return out


async def sequence(url: str, headers: dict[str, str], max_tokens: int) -> dict[str, float]:
    """Mean decode tok/s per kind over one pass of the requests."""
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    limits = httpx.Limits(max_keepalive_connections=0)  # see bench/README.md's caveats
    async with httpx.AsyncClient(headers=headers, timeout=600, limits=limits) as client:
        await stream_chat(client, url, requests(4)[0][1])  # loaded, warm
        for kind, body in requests(max_tokens):
            reply: Stream = await stream_chat(client, url, body)
            rates[kind].append(reply.decode_rate)
    return {kind: statistics.mean(values) for kind, values in rates.items()}


@contextmanager
def server(config: str, model: str, work: Path) -> Iterator[servers.Served]:
    """llama.cpp's own server, or openvertex with the given `speculative`."""
    cores = len(os.sched_getaffinity(0))
    if config == "llama.cpp":
        with servers.llama_reference(cores, 4, 4096, work, model=model) as served:
            yield served
        return
    flags = ("--model", model, "--parallel", "4", "--speculative", config)
    with servers.openvertex_flags(work, *flags) as served:
        yield served


def run(
    models: tuple[str, ...], rounds: int, max_tokens: int, work: Path, log: Callable
) -> list[tuple[str, ...]]:
    """Rounds alternate the servers' order; medians of each kind's mean over rounds."""
    work.mkdir(exist_ok=True)
    configs = ["llama.cpp", "none", "ngram-mod"]
    table = []
    for model in models:
        measured: dict[str, list[dict[str, float]]] = {c: [] for c in configs}
        for round_ in range(rounds):
            for config in configs if round_ % 2 == 0 else reversed(configs):
                with server(config, model, work) as served:
                    rates = asyncio.run(sequence(served.url, served.headers, max_tokens))
                    measured[config].append(rates)
            log(f"speculation, {model}: round {round_ + 1}/{rounds} done")
        for kind in KINDS:
            ref, off, on = (statistics.median(m[kind] for m in measured[c]) for c in configs)
            table.append((model, kind, f"{ref:.1f}", f"{off:.1f}", f"{on:.1f}", f"{on / ref:.2f}"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    results = Path(__file__).parent / "results"
    table = run(models, args.rounds, args.max_tokens, results, print)
    print("| " + " | ".join(COLUMNS) + " |")
    print("|---|---" + "|--:" * (len(COLUMNS) - 2) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
