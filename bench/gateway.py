"""Gateway overhead: openvertex and LiteLLM's proxy in front of the same llama.cpp upstream.

One llama.cpp server (bench/llama_server.py, the embedded GGUF) is the upstream,
on all cores but one: a gateway belongs on other cores than the model it fronts
(on other machines, in a cluster), and llama.cpp's spinning threads lose far
more than the CPU a gateway takes from them. Each round streams the same
requests to it directly, through openvertex (an upstream pool of one replica,
auth on, an API key) and through LiteLLM's proxy (`litellm[proxy]` in its own
venv, a master key), one path at a time: time to first token for short prompts
(what a gateway adds to each request), then
aggregate decode speed at 1, 8 and 32 concurrent streams, and the gateway's CPU
time per streamed token meanwhile.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import servers
from measure import LONG_PROMPT, MODEL, aggregate_rate, chat_body, concurrent, stream_chat

ROOT = Path(__file__).resolve().parents[1]
LITELLM = ROOT / ".venv-litellm" / "bin" / "litellm"
LEVELS = (1, 8, 32)
PATHS = ("direct", "openvertex", "LiteLLM")
MASTER_KEY = "sk-bench"


@dataclass
class PathSamples:
    ttft_ms: list[float] = field(default_factory=list)
    aggregate: dict[int, list[float]] = field(default_factory=lambda: {n: [] for n in LEVELS})
    cpu_us_per_token: list[float] = field(default_factory=list)


def cpu_seconds(pid: int | None) -> float:
    """CPU time of a gateway and its children so far (0 for the direct path)."""
    if pid is None:
        return 0.0
    process = psutil.Process(pid)
    times = [p.cpu_times() for p in (process, *process.children(recursive=True))]
    return sum(t.user + t.system for t in times)


def install_litellm() -> None:
    """LiteLLM pins its own versions of openai, pydantic…: it gets a venv of its own."""
    if LITELLM.exists():
        return
    venv = LITELLM.parents[1]
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "litellm[proxy]"], check=True)


Path_ = Iterator[tuple[str, dict[str, str], int | None]]  # URL, headers, gateway pid


def gateway_config(upstream: str, work: Path) -> Path:
    """A config serving MODEL from the llama.cpp server at `upstream`, with no model of its own."""
    config = work / "gateway.toml"
    config.write_text(
        f'[[models]]\nnames = ["{MODEL}"]\nupstreams = ["{upstream}"]\n'
        'upstream_model = "smollm2"\ndialect = "llamacpp"\nmax_concurrency = 64\n'
    )
    return config


@contextmanager
def openvertex_gateway(upstream: str, work: Path) -> Path_:
    config = gateway_config(upstream, work)
    with servers.openvertex_server(work, "--config", str(config)) as (base, data, pid):
        key = subprocess.run(
            [sys.executable, "-m", "openvertex", "apikeys", "create", "--project",
             "openvertex-local", "--data-dir", str(data)],
            capture_output=True, text=True, check=True,
        ).stdout.split()[-1]  # fmt: skip
        vertex = f"{base}/v1/projects/openvertex-local/locations/us-central1/endpoints/openapi"
        yield f"{vertex}/chat/completions", {"x-goog-api-key": key}, pid


@contextmanager
def litellm_proxy(upstream: str, work: Path) -> Path_:
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f'  - model_name: "{MODEL}"\n'
        "    litellm_params:\n"
        '      model: "openai/smollm2"\n'
        f'      api_base: "{upstream}"\n'
        '      api_key: "none"\n'
        f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )
    port = servers.free_port()
    log = work / "litellm.log"
    cmd = [str(LITELLM), "--config", str(config), "--port", str(port), "--num_workers", "1"]
    with servers.process(cmd, log) as proc:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        servers.wait_until(
            lambda: httpx.get(f"{base}/health/liveliness", timeout=2).status_code == 200, proc, log
        )
        yield f"{base}/v1/chat/completions", headers, proc.pid


async def measure_path(
    url: str, headers: dict[str, str], pid: int | None, out: PathSamples, samples: int
) -> None:
    # Fresh connections, as in the main bench: a kept-alive one to llama.cpp's own server
    # adds about 50 ms to each reply here, and may be dropped after a long stream.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=300, limits=limits, headers=headers) as client:
        await concurrent(client, url, chat_body("Say hi.", 8), 8)  # warm every layer
        tag = uuid.uuid4().hex[:8]  # prompts new to the upstream's cache, for every path alike
        for i in range(samples):
            reply = await stream_chat(client, url, chat_body(f"Name a colour. ({tag}-{i})", 4))
            out.ttft_ms.append(reply.ttft_ms)
        cpu, tokens = cpu_seconds(pid), 0
        for level in LEVELS:
            streams = await concurrent(client, url, chat_body(LONG_PROMPT, 64), level)
            out.aggregate[level].append(aggregate_rate(streams))
            tokens += sum(s.completion_tokens for s in streams)
        out.cpu_us_per_token.append((cpu_seconds(pid) - cpu) / tokens * 1e6)


def run(threads: int, rounds: int, samples: int, work: Path, log) -> dict[str, PathSamples]:
    install_litellm()
    results = {path: PathSamples() for path in PATHS}
    upstream_threads = max(1, threads - 1)
    with servers.llama_reference(upstream_threads, 32, 1024, work) as reference:
        chat_url = reference.url
        upstream = chat_url.removesuffix("/chat/completions")
        paths = {
            "direct": lambda: _direct(chat_url),
            "openvertex": lambda: openvertex_gateway(upstream, work),
            "LiteLLM": lambda: litellm_proxy(upstream, work),
        }
        for round_ in range(rounds):
            order = PATHS if round_ % 2 == 0 else tuple(reversed(PATHS))
            for path in order:
                with paths[path]() as (url, headers, pid):
                    asyncio.run(measure_path(url, headers, pid, results[path], samples))
                log(f"gateway round {round_ + 1}/{rounds}: {path} done")
    return results


@contextmanager
def _direct(url: str) -> Path_:
    yield url, {}, None


def rows(results: dict[str, PathSamples]) -> list[tuple[str, ...]]:
    """(metric, direct, openvertex, LiteLLM)."""

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]

    direct = results["direct"]
    table = []
    for q in (50, 99):
        base = pct(direct.ttft_ms, q)
        cells = [f"{base:.1f}"]
        for path in PATHS[1:]:
            value = pct(results[path].ttft_ms, q)
            cells.append(f"{value:.1f} ({value - base:+.1f})")
        table.append((f"time to first token p{q}, ms (added)", *cells))
    for n in LEVELS:
        base = statistics.median(direct.aggregate[n])
        cells = [f"{base:.1f}"]
        for path in PATHS[1:]:
            value = statistics.median(results[path].aggregate[n])
            cells.append(f"{value:.1f} ({value / base:.3f})")
        label = f"aggregate decode tok/s, {n} stream{'s' if n > 1 else ''} (vs direct)"
        table.append((label, *cells))
    cpu = [f"{statistics.median(results[p].cpu_us_per_token):.0f}" for p in PATHS[1:]]
    table.append(("gateway CPU per streamed token, µs", "-", *cpu))
    return table
