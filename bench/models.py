"""Two models in one openvertex: does one model's load or work hold up the other, and do
the cores follow the work?

One server with two `[[models]]` tables: SmolLM2-135M under the flash-lite name and
Qwen2.5-Coder-0.5B under the flash name, both loading on first use. A poller asks
`/healthz` every 10 ms throughout and keeps the slowest answer of each phase. Phases:
SmolLM2 decoding alone; SmolLM2 decoding while Qwen loads (Qwen's first request is sent
mid-stream); SmolLM2 decoding with Qwen loaded and idle; Qwen decoding alone; both
decoding at once (each one's rate over the time both were decoding). With the cores
following the work (the default) and with a static split (`--threads` = half the cores
each). No n-gram drafts: they would learn the repeated prompt.

    python bench/models.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import servers
from measure import Stream, chat_body, stream_chat

LITE, FLASH = "google/gemini-2.0-flash-lite", "google/gemini-2.0-flash"
CONFIG = f"""
preload = false
speculative = "none"

[[models]]
names = ["{LITE}"]
model = "smollm2-135m"

[[models]]
names = ["{FLASH}"]
model = "qwen2.5-coder-0.5b"
"""
PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
COLUMNS = (
    "threads per model",
    "phase",
    "SmolLM2 tok/s",
    "Qwen tok/s",
    "sum",
    "slowest /healthz, ms",
    "longest SmolLM2 gap, ms",
)


class Poller:
    """Asks /healthz every 10 ms; `worst()` is the slowest answer since the last call."""

    def __init__(self, base: str) -> None:
        self.base, self._worst = base, 0.0

    async def poll(self, client: httpx.AsyncClient) -> None:
        while True:
            sent = time.perf_counter()
            await client.get(f"{self.base}/healthz")
            self._worst = max(self._worst, time.perf_counter() - sent)
            await asyncio.sleep(0.01)

    def worst(self) -> float:
        worst, self._worst = self._worst, 0.0
        return worst * 1000


async def one_round(base: str, headers: dict[str, str], max_tokens: int) -> list[tuple]:
    url = f"{base}/v1/projects/openvertex-local/locations/us-central1/endpoints/openapi"
    url += "/chat/completions"
    lite = {**chat_body(PROMPT, max_tokens), "model": LITE}
    flash = {**chat_body(PROMPT, max_tokens), "model": FLASH}
    async with httpx.AsyncClient(headers=headers, timeout=600) as client:

        async def first_use() -> None:
            await stream_chat(client, url, {**flash, "max_tokens": 8})

        async def phase(label: str, during: Callable[[], Awaitable] | None = None) -> tuple:
            poller.worst()
            lite_run = asyncio.create_task(stream_chat(client, url, lite))
            if during is not None:
                await asyncio.sleep(0.5)  # well into SmolLM2's reply
                await during()
            stream = await lite_run
            return label, stream.decode_rate, None, poller.worst(), stream.longest_gap_ms

        async def qwen_alone() -> tuple:
            poller.worst()
            stream = await stream_chat(client, url, flash)
            return "Qwen alone", None, stream.decode_rate, poller.worst(), None

        async def both() -> tuple:
            poller.worst()
            # SmolLM2 is the faster by far: a longer reply keeps it busy while Qwen decodes.
            small = stream_chat(client, url, {**lite, "max_tokens": max_tokens * 3})
            pair: tuple[Stream, Stream] = await asyncio.gather(
                small, stream_chat(client, url, flash)
            )
            start, end = max(s.first for s in pair), min(s.done for s in pair)
            rates = [s.rate_between(start, end) for s in pair]
            return "both at once", *rates, poller.worst(), pair[0].longest_gap_ms

        poller = Poller(base)
        polling = asyncio.create_task(poller.poll(client))
        await stream_chat(client, url, {**lite, "max_tokens": 8})  # SmolLM2 loads
        rows = [
            await phase("SmolLM2 alone"),
            await phase("while Qwen loads", first_use),
            await phase("Qwen loaded, idle"),
            await qwen_alone(),
            await both(),
        ]
        polling.cancel()
        return rows


def run(rounds: int, max_tokens: int, work: Path, log: Callable) -> list[tuple[str, ...]]:
    """Each round on a fresh server, so Qwen's load is a first use every time."""
    work.mkdir(exist_ok=True)
    config = work / "two-models.toml"
    config.write_text(CONFIG)
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    table = []
    for label, threads in (
        ("cores follow the work (default)", ()),
        (f"static split (--threads {half})", ("--threads", str(half))),
    ):
        measured = []
        for round_ in range(rounds):
            flags = ("--config", str(config), *threads)
            with servers.openvertex_server(work, *flags) as (base, data, _):
                headers = servers._google_auth_headers(data / "openvertex-local-key.json")
                measured.append(asyncio.run(one_round(base, headers, max_tokens)))
            log(f"two models, {label}: round {round_ + 1}/{rounds} done")
        table += [(label, *row) for row in _rows(measured)]
    return table


def _rows(measured: list[list[tuple]]) -> list[tuple[str, ...]]:
    """Medians over rounds, as display strings; "-" where a phase has no such value."""

    def cell(values: list[float | None], fmt: str) -> str:
        known = [v for v in values if v is not None]
        return fmt.format(statistics.median(known)) if known else "-"

    table = []
    for i, (label, *_) in enumerate(measured[0]):
        column = [[m[i][k] for m in measured] for k in range(1, 5)]
        lite, qwen = cell(column[0], "{:.1f}"), cell(column[1], "{:.1f}")
        both = [m[i][1] + m[i][2] for m in measured if None not in (m[i][1], m[i][2])]
        total = f"{statistics.median(both):.1f}" if both else "-"
        table.append(
            (label, lite, qwen, total, cell(column[2], "{:.0f}"), cell(column[3], "{:.0f}"))
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    table = run(args.rounds, args.max_tokens, Path(__file__).parent / "results", print)
    print("| " + " | ".join(COLUMNS) + " |")
    print("|---" + "|---" + "|--:" * (len(COLUMNS) - 2) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
