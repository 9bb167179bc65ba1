"""Benchmark openvertex against llama.cpp's own server, same model, same settings.

Both are started one after the other (never together: the cores are shared),
warmed up, and sent identical streaming requests over HTTP. With several
repeats each server is restarted once per round, alternating which goes first,
and the table shows medians over all rounds.

    python bench/run.py [--quick] [--threads T] [--max-tokens N] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import embeddings
import figures
import gateway
import httpx
import models
import psutil
import quality
import replicas
import servers
import speculation
import speech
import xllamacpp
from measure import (
    LONG_PROMPT,
    MODEL,
    STORY_FORMAT,
    STORY_SCHEMA,
    STORY_TOOL,
    Thought,
    aggregate_rate,
    chat_body,
    completion_rate,
    concurrent,
    conversation_turns,
    generate_body,
    median,
    stream_chat,
    stream_generate,
    think,
)
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.table import Table

from openvertex.media.audio import decode_audio
from openvertex.media.ocr import OcrReader
from openvertex.media.transcribe import Transcriber

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = (1, 4, 8)
EFFORTS = ("none", "low", "medium", "high")  # reasoning_effort, openvertex only
ServerFactory = Callable[[int, int, int, Path], AbstractContextManager[servers.Served]]
# openvertex serving the embedded model alone; the default install (every tier, each
# preloaded, and the embedding model) asked with the flash-lite name, the same model;
# and the reference.
SERVERS: dict[str, ServerFactory] = {
    "openvertex": servers.openvertex,
    "default install": functools.partial(servers.openvertex, one_model=False),
    "llama.cpp": servers.llama_reference,
}
MODELS = {"openvertex": MODEL, "default install": "google/gemini-2.0-flash-lite"}


@dataclass(frozen=True)
class Config:
    threads: int
    parallel: int
    context: int
    max_tokens: int
    repeats: int
    ttft_samples: int
    thinking_samples: int
    gateway: bool
    replicas: bool
    embeddings: bool
    models: bool
    speculation: bool
    quality: bool
    speech: bool


@dataclass
class Samples:
    """Every measurement of one server, over all rounds."""

    ttft_ms: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    aggregate: dict[int, list[float]] = field(default_factory=lambda: {n: [] for n in LEVELS})
    constrained: list[float] = field(default_factory=list)  # decode tok/s under STORY_SCHEMA
    tool_call: list[float] = field(default_factory=list)  # tok/s, a required STORY_TOOL call
    unstreamed: list[float] = field(default_factory=list)  # tok/s, the same way, unconstrained
    # 1-stream decode tok/s through each wire of the same server, interleaved
    wires: dict[str, list[float]] = field(default_factory=lambda: {"openai": [], "gemini": []})
    # aggregate tok/s through generateContent (openvertex only)
    native: dict[int, list[float]] = field(default_factory=lambda: {n: [] for n in LEVELS})
    cpu_us: list[float] = field(default_factory=list)  # server CPU per streamed token
    turns: list[tuple[float, float]] = field(default_factory=list)  # TTFT ms, turns 1 and 2
    tokens: set[tuple[int, int]] = field(default_factory=set)  # (prompt, completion), 1 stream
    startup_s: list[float] = field(default_factory=list)  # process start to ready
    thinking: dict[str, list[Thought]] = field(default_factory=lambda: {e: [] for e in EFFORTS})


async def measure(served: servers.Served, model: str, cfg: Config, out: Samples) -> None:
    """Warm up, then TTFT on short prompts, then decode speed at each concurrency level
    (through both wires, for openvertex, with the CPU its own process spent meanwhile),
    then a schema-constrained reply and the turns of interleaved conversations."""
    # A fresh connection per request: llama.cpp's HTTP server may close a kept-alive
    # connection after a long stream without saying so, and a reused one then fails.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
    url = served.url
    async with httpx.AsyncClient(timeout=300, limits=limits, headers=served.headers) as client:

        def body(prompt: str, max_tokens: int) -> dict:
            return {**chat_body(prompt, max_tokens), "model": model}

        warm = body("Say hi.", 8)
        await stream_chat(client, url, warm)
        await concurrent(client, url, warm, cfg.parallel)  # every slot and connection used once
        for i in range(cfg.ttft_samples):
            # A different prompt each time, so no request is answered from a fully cached prompt.
            reply = await stream_chat(client, url, body(f"Name a colour. ({i})", 4))
            out.ttft_ms.append(reply.ttft_ms)
        process = psutil.Process(served.pid) if served.pid else None
        spent, streamed = cpu_seconds(process), 0
        long = body(LONG_PROMPT, cfg.max_tokens)
        for level in LEVELS:
            streams = await concurrent(client, url, long, level)
            out.aggregate[level].append(aggregate_rate(streams))
            streamed += sum(s.completion_tokens for s in streams)
            if level == 1:
                out.decode.append(streams[0].decode_rate)
                out.tokens.add((streams[0].prompt_tokens, streams[0].completion_tokens))
        if served.native:
            native = served.native.format(model=model.removeprefix("google/"))
            generate = generate_body(LONG_PROMPT, cfg.max_tokens)
            for level in LEVELS:
                streams = await concurrent(client, native, generate, level, stream_generate)
                out.native[level].append(aggregate_rate(streams))
                streamed += sum(s.completion_tokens for s in streams)
        if process is not None:
            out.cpu_us.append((cpu_seconds(process) - spent) / streamed * 1e6)
        constrained = await stream_chat(client, url, {**long, "response_format": STORY_FORMAT})
        out.constrained.append(constrained.decode_rate)
        out.turns.append(await conversation_turns(client, url, model))


def cpu_seconds(process: psutil.Process | None) -> float:
    """CPU time of one process so far (openvertex's own, not its runners')."""
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


async def measure_openvertex_only(served: servers.Served, cfg: Config, out: Samples) -> None:
    """Features llama.cpp's server does not offer for this model: tool calls, thinking.

    The tool call is compared with an unconstrained reply measured the same way
    (non-streamed, prompt cached: a call is sent whole once complete, so it has no
    first token to time decoding from).
    """
    url, native = served.url, served.native.format(model="gemini-2.0-flash-001")
    async with httpx.AsyncClient(timeout=600, headers=served.headers) as client:
        long = chat_body(LONG_PROMPT, cfg.max_tokens)
        for _ in range(3):  # the same request through both wires, taking turns
            out.wires["openai"].append((await stream_chat(client, url, long)).decode_rate)
            generated = await stream_generate(
                client, native, generate_body(LONG_PROMPT, cfg.max_tokens)
            )
            out.wires["gemini"].append(generated.decode_rate)
        tools = {"tools": [STORY_TOOL], "tool_choice": "required"}
        out.tool_call.append(await completion_rate(client, url, {**long, **tools}))
        out.unstreamed.append(await completion_rate(client, url, long))
        for effort in EFFORTS:
            for seed in range(cfg.thinking_samples):
                out.thinking[effort].append(await think(client, url, effort, seed))


def run(cfg: Config, console: Console) -> dict[str, Samples]:
    """All rounds; each server runs alone and is always stopped before the next starts."""
    samples = {name: Samples() for name in SERVERS}
    RESULTS.mkdir(exist_ok=True)
    for round_ in range(cfg.repeats):
        names = list(SERVERS) if round_ % 2 == 0 else list(reversed(SERVERS))
        for name in names:
            started = time.perf_counter()
            with SERVERS[name](cfg.threads, cfg.parallel, cfg.context, RESULTS) as served:
                ready = time.perf_counter() - started
                samples[name].startup_s.append(ready)
                model = MODELS.get(name, MODEL)
                asyncio.run(measure(served, model, cfg, samples[name]))
                if name == "openvertex":
                    asyncio.run(measure_openvertex_only(served, cfg, samples[name]))
            total = time.perf_counter() - started
            console.log(
                f"round {round_ + 1}/{cfg.repeats}: {name} ready in {ready:.1f} s, "
                f"done in {total:.1f} s"
            )
    return samples


def rows(s: dict[str, Samples]) -> list[tuple[str, ...]]:
    """(metric, openvertex, default install, llama.cpp, ratios to llama.cpp) as strings."""
    ov, dflt, ref = s["openvertex"], s["default install"], s["llama.cpp"]

    def row(label: str, get: Callable[[Samples], list[float]], fmt: str = "{:.1f}") -> tuple:
        a, d, b = (median(get(x)) for x in (ov, dflt, ref))
        ratio = [
            f"{v / b:.2f}" if b and b == b and v == v else "-" for v in (a, d)
        ]  # x == x: not NaN
        return label, *(fmt.format(v) if v == v else "-" for v in (a, d, b)), *ratio

    def text(label: str, a: str, d: str = "", b: str = "") -> tuple[str, ...]:
        return label, a, d, b, "", ""

    ttft = [median(x.ttft_ms) for x in (ov, dflt, ref)]
    table = [
        row("decode tok/s, 1 stream (median)", lambda x: x.decode),
        row("time to first token, ms (median)", lambda x: x.ttft_ms),
        text(
            "TTFT overhead, ms (openvertex - llama.cpp)",
            f"{ttft[0] - ttft[2]:+.1f}",
            f"{ttft[1] - ttft[2]:+.1f}",
        ),
    ]
    for n in LEVELS:
        label = f"aggregate decode tok/s, {n} stream{'s' if n > 1 else ''}"
        table.append(row(label, lambda x, n=n: x.aggregate[n]))
    for n in LEVELS:
        label = f"aggregate decode tok/s, {n} stream{'s' if n > 1 else ''}, generateContent"
        table.append(row(label, lambda x, n=n: x.native[n]))
    table.append(
        text(
            "openvertex CPU per streamed token, µs (its own process, both wires)",
            f"{median(ov.cpu_us):.0f}",
            f"{median(dflt.cpu_us):.0f}",
        )
    )
    table.append(row("startup to ready, s (median)", lambda x: x.startup_s))
    table.append(
        row(
            "time to first token, a conversation's first turn, ms",
            lambda x: [t[0] for t in x.turns],
        )
    )
    table.append(row("time to first token, its second turn, ms", lambda x: [t[1] for t in x.turns]))
    table.append(row("schema-constrained decode tok/s", lambda x: x.constrained))
    table.append(
        text(
            "constrained / unconstrained decode",
            f"{median(ov.constrained) / median(ov.decode):.2f}",
            f"{median(dflt.constrained) / median(dflt.decode):.2f}",
            f"{median(ref.constrained) / median(ref.decode):.2f}",
        )
    )
    table.append(
        text(
            "tool-call decode tok/s (required) / unconstrained",
            f"{median(ov.tool_call):.1f} / {median(ov.unstreamed):.1f} = "
            f"{median(ov.tool_call) / median(ov.unstreamed):.2f}",
        )
    )
    gemini, openai = median(ov.wires["gemini"]), median(ov.wires["openai"])
    table.append(
        text(
            "decode tok/s, 1 stream: generateContent / chat completions (same server)",
            f"{gemini:.1f} / {openai:.1f} = {gemini / openai:.2f}",
        )
    )
    cold, cached = schema_build_ms()
    table.append(
        text("JSON-schema grammar check+build, ms: cold / cached", f"{cold:.2f} / {cached:.3f}")
    )

    rtf, ocr_ms = media_timings()
    table.append(text("transcription, audio s per wall s (Whisper tiny.en)", rtf))
    table.append(text("OCR per image, ms (900x160, one line; median of 5)", ocr_ms))

    def tokens(x: Samples) -> str:
        return ", ".join(f"{p}/{c}" for p, c in sorted(x.tokens))

    table.append(text("tokens in/out, 1 stream (check)", tokens(ov), tokens(dflt), tokens(ref)))
    return table


THINKING_COLUMNS = ("reasoning_effort", "budget", "reply s", "thinking tokens", "answer tokens")


def thinking_rows(s: dict[str, Samples]) -> list[tuple[str, ...]]:
    """Medians per effort level; llama.cpp's server has no thinking budgets for this model."""
    from openvertex.core.reasoning import DEFAULT_EFFORT_BUDGETS

    table = []
    for effort, replies in s["openvertex"].thinking.items():
        table.append(
            (
                effort,
                str(DEFAULT_EFFORT_BUDGETS[effort]),
                f"{median([r.seconds for r in replies]):.2f}",
                f"{median([r.reasoning_tokens for r in replies]):.0f}",
                f"{median([r.completion_tokens - r.reasoning_tokens for r in replies]):.0f}",
            )
        )
    return table


def schema_build_ms() -> tuple[float, float]:
    """openvertex's schema check and grammar build, first time and from its cache."""
    from openvertex.engines.constraints import grammar as constraints

    constraints._guided.cache_clear()
    times = []
    for _ in range(2):
        started = time.perf_counter()
        constraints.json_rule(STORY_SCHEMA, strict=True, param="response_format")
        times.append((time.perf_counter() - started) * 1000)
    return times[0], times[1]


SPOKEN = [
    "Please send the quarterly report to the finance team by Friday.",
    "The weather today is sunny with a light breeze from the west.",
    "Turn left at the next corner and park near the library.",
]


def media_timings() -> tuple[str, str]:
    """The cascade's own models, in process and warm: real-time factor and OCR latency."""
    rtf = "- (espeak-ng missing)"
    if shutil.which("espeak-ng"):
        transcriber = Transcriber()
        transcriber.load()
        clips = [
            decode_audio(
                subprocess.run(
                    ["espeak-ng", "-s", "130", "--stdout", text], capture_output=True
                ).stdout,
                "wav",
            )
            for text in SPOKEN
        ]
        started = time.perf_counter()
        for clip in clips:
            transcriber.transcribe(clip)
        rtf = f"{sum(c.seconds for c in clips) / (time.perf_counter() - started):.1f}"
    image = Image.new("RGB", (900, 160), "white")
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((40, 50), "INVOICE TOTAL 42.50", font=font, fill="navy")
    reader = OcrReader()
    reader.load()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        reader.read_text(image)
        times.append((time.perf_counter() - started) * 1000)
    return rtf, f"{median(times):.0f}"


def header(cfg: Config) -> str:
    return (
        f"SmolLM2-135M-Instruct Q4_1, xllamacpp {xllamacpp.__version__}, "
        f"{cfg.threads} threads, {cfg.parallel} slots x {cfg.context} ctx, "
        f"max_tokens {cfg.max_tokens}, {cfg.repeats} round(s), "
        f"TTFT median of {cfg.ttft_samples * cfg.repeats}; {os.cpu_count()} CPUs, "
        f"{platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )


COLUMNS = (
    "metric",
    "openvertex",
    "default install",
    "llama.cpp",
    "ratio ov/ref",
    "ratio default/ref",
)


def to_markdown(cfg: Config, *tables: tuple[tuple[str, ...], list[tuple[str, ...]]]) -> str:
    lines = [f"_{header(cfg)}_"]
    for columns, table in tables:
        lines += ["", "| " + " | ".join(columns) + " |", "|---" + "|--:" * (len(columns) - 1) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in table]
    return "\n".join(lines) + "\n"


def parse_args() -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, short replies, few samples")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--parallel", type=int, default=8, help="slots in both servers")
    parser.add_argument("--max-tokens", type=int, help="reply length (default 128, quick 32)")
    parser.add_argument("--repeats", type=int, help="rounds per server (default 3, quick 1)")
    parser.add_argument("--ttft-samples", type=int, help="per round (default 10, quick 3)")
    parser.add_argument("--thinking-samples", type=int, help="per effort (default 5, quick 2)")
    parser.add_argument(
        "--no-gateway", action="store_true", help="skip openvertex vs LiteLLM as gateways"
    )
    parser.add_argument(
        "--no-replicas", action="store_true", help="skip one vs two replicas on shared state"
    )
    parser.add_argument(
        "--no-embeddings", action="store_true", help="skip embeddings vs llama.cpp's server"
    )
    parser.add_argument("--no-models", action="store_true", help="skip two models in one server")
    parser.add_argument(
        "--no-speculation", action="store_true", help="skip n-gram drafts vs llama.cpp"
    )
    parser.add_argument(
        "--no-quality", action="store_true", help="skip answer quality per model tier"
    )
    parser.add_argument("--no-speech", action="store_true", help="skip Whisper tiny.en vs base")
    a = parser.parse_args()
    return Config(
        threads=a.threads,
        parallel=a.parallel,
        context=4096,  # openvertex's default context per request
        max_tokens=a.max_tokens or (32 if a.quick else 128),
        repeats=a.repeats or (1 if a.quick else 3),
        ttft_samples=a.ttft_samples or (3 if a.quick else 10),
        thinking_samples=a.thinking_samples or (2 if a.quick else 5),
        gateway=not a.no_gateway,
        replicas=not a.no_replicas,
        embeddings=not a.no_embeddings,
        models=not a.no_models,
        speculation=not a.no_speculation,
        quality=not a.no_quality,
        speech=not a.no_speech,
    )


def main() -> None:
    cfg = parse_args()
    # Turn SIGTERM into SystemExit so the servers' context managers still stop them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console()
    console.log(header(cfg))
    samples = run(cfg, console)
    table, thinking = rows(samples), thinking_rows(samples)
    view = Table(*COLUMNS, title="openvertex vs llama.cpp server", caption=header(cfg))
    for r in table:
        view.add_row(*r)
    console.print(view)
    view = Table(*THINKING_COLUMNS, title="thinking cost per reply (openvertex; medians)")
    for r in thinking:
        view.add_row(*r)
    console.print(view)
    tables = [(COLUMNS, table), (THINKING_COLUMNS, thinking)]
    if cfg.gateway:
        rounds = max(1, cfg.repeats - 1)
        results = gateway.run(cfg.threads, rounds, cfg.ttft_samples * 4, RESULTS, console.log)
        gateway_table = gateway.rows(results)
        columns = ("metric", *gateway.PATHS)
        view = Table(*columns, title="gateways in front of one llama.cpp server (medians)")
        for r in gateway_table:
            view.add_row(*r)
        console.print(view)
        tables.append((columns, gateway_table))
    if cfg.replicas:
        total = 200 if cfg.repeats == 1 else 600
        replica_table = replicas.run(cfg.threads, total, RESULTS, console.log)
        view = Table(*replicas.COLUMNS, title="replicas on shared state, in front of llama.cpp")
        for r in replica_table:
            view.add_row(*r)
        console.print(view)
        tables.append((replicas.COLUMNS, replica_table))
    if cfg.embeddings:
        embedding_table = embeddings.run(cfg.threads, cfg.repeats * 2, RESULTS, console.log)
        title = "embeddings: nomic-embed-text-v1.5 f16, 4 slots (medians)"
        view = Table(*embeddings.COLUMNS, title=title)
        for r in embedding_table:
            view.add_row(*r)
        console.print(view)
        tables.append((embeddings.COLUMNS, embedding_table))
    if cfg.models:
        models_table = models.run(cfg.repeats, cfg.max_tokens * 2, RESULTS, console.log)
        view = Table(*models.COLUMNS, title="two models in one server (medians)")
        for r in models_table:
            view.add_row(*r)
        console.print(view)
        tables.append((models.COLUMNS, models_table))
    if cfg.speculation:
        rounds = max(1, cfg.repeats - 1)
        speculation_table = speculation.run(speculation.MODELS, rounds, 200, RESULTS, console.log)
        view = Table(*speculation.COLUMNS, title="n-gram speculation (medians)")
        for r in speculation_table:
            view.add_row(*r)
        console.print(view)
        tables.append((speculation.COLUMNS, speculation_table))
    text = to_markdown(cfg, *tables)
    if cfg.quality:  # its own servers, one per tier (quality.py); markdown already
        quality_table = quality.run_quality(quality.DEFAULT_TIERS, quick=cfg.repeats == 1)
        console.print(quality_table, markup=False, highlight=False)
        text += "\n" + quality_table
    if cfg.speech:  # in process: Whisper tiny.en against base
        speech_table = speech.run_speech(quick=cfg.repeats == 1)
        console.print(speech_table, markup=False, highlight=False)
        text += "\n" + speech_table + "\n"
    out = RESULTS / "latest.md"
    out.write_text(text)
    console.print(f"written to {out}")
    for path in figures.draw(
        text, figures.ROOT / "docs" / "figures"
    ):  # shown in docs/benchmarks.md
        console.print(f"drawn {path}")


if __name__ == "__main__":
    main()
