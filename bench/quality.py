"""Answer quality per model tier: function calls, extraction, thinking arithmetic, decode speed.

Each tier is served alone (`openvertex serve --no-auth`, one `[[models]]` table naming
it `tier-<tier>`), asked the fixed prompt sets in bench/sets/ through the openai SDK
one prompt at a time, and stopped before the next tier starts: the small machine's
cores and memory go to the one tier measured. Sampling is each server's default
(seeded, so a rerun asks the same), except the decode measurement, which is greedy.

    python bench/quality.py [--tiers smollm2-135m,qwen2.5-coder-0.5b] [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import servers
from measure import LONG_PROMPT
from openai import OpenAI, OpenAIError
from pydantic import BaseModel, ValidationError

HERE = Path(__file__).resolve().parent
SETS = HERE / "sets"
RESULTS = HERE / "results"
# Joined weights are kept here between runs (each tier's data dir links to it).
WEIGHTS = RESULTS / "quality-models"
# What each tier's `model =` gets: a catalog name or a GGUF path. A tier not listed is
# passed through as it is (e.g. `--tiers smollm2-135m-instruct`).
MODELS = {
    "smollm2-135m": "smollm2-135m",
    "qwen2.5-coder-0.5b": "qwen2.5-coder-0.5b",
    "qwen2.5-coder-1.5b": "qwen2.5-coder-1.5b",
}
DEFAULT_TIERS = list(MODELS)
READY_TIMEOUT_S = 900  # loading (and joining a model's parts the first time) can be slow
QUICK = 3  # prompts per set with --quick
SEED = 42
COLUMNS = ("tier", "function calling", "extraction", "arithmetic (thinking)", "decode tok/s",
           "wall s")  # fmt: skip
Answer = tuple[bool, str, str]  # correct, kind of reply, the reply (for the answers log)


# The `.parse()` example of Vertex's documentation. No docstring: it would reach the model as the
# schema's description (a model once copied it into `name`).
class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


class TierUnavailable(Exception):
    """The tier cannot be measured here; the message is what its row shows."""


def load(name: str, quick: bool) -> dict[str, Any]:
    """A prompt set from bench/sets/ (its first few prompts with --quick)."""
    data = json.loads((SETS / name).read_text())
    if quick:
        data["prompts"] = data["prompts"][:QUICK]
    return data


def same(expected: Any, got: Any) -> bool:
    """Lenient: numbers numerically, anything else case-insensitively after strip."""
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            return float(got) == float(expected)
        except (TypeError, ValueError):
            return False
    return str(got).strip().lower() == str(expected).strip().lower()


def call_kind(content: str | None) -> str:
    """What a reply without a real call wrote instead, for the answers log."""
    text = content or ""
    if '"name"' in text:  # a call (or the tool's schema copied) written out as JSON
        return "fenced JSON in content" if "```" in text else "JSON in content"
    return "text"


def function_call(client: OpenAI, model: str, prompt: dict[str, Any], tools: dict) -> Answer:
    """Right only as one real call of the expected function with the expected arguments:
    a call written into the content would not reach the caller's code."""
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt["user"]}],
        tools=[tools[name] for name in prompt["tools"]],
        tool_choice="auto",
        max_tokens=256,
        seed=SEED,
    )
    message = reply.choices[0].message
    calls = message.tool_calls or []
    if not calls:
        return False, call_kind(message.content), message.content or ""
    shown = "; ".join(f"{c.function.name}({c.function.arguments})" for c in calls)
    expected = prompt["expected"]
    if len(calls) != 1 or calls[0].function.name != expected["name"]:
        return False, "wrong function" if len(calls) == 1 else "several calls", shown
    try:
        arguments = json.loads(calls[0].function.arguments)
    except json.JSONDecodeError:
        return False, "arguments not JSON", shown
    ok = all(k in arguments and same(v, arguments[k]) for k, v in expected["arguments"].items())
    return ok, "call" if ok else "wrong arguments", shown


def chat(system: str, user: str) -> list[dict[str, str]]:
    """The set's system prompt, then the question."""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def extraction(client: OpenAI, model: str, prompt: dict[str, Any], system: str) -> Answer:
    """Right when every person named is among the participants (the grammar already
    guarantees the shape, so only the content is scored)."""
    reply = client.beta.chat.completions.parse(
        model=model,
        messages=chat(system, prompt["user"]),
        response_format=CalendarEvent,
        max_tokens=256,
        seed=SEED,
    )
    event = reply.choices[0].message.parsed
    if event is None:
        return False, "no event", reply.choices[0].message.content or ""
    found = [p.lower() for p in event.participants]
    ok = all(any(name.lower() in p for p in found) for name in prompt["people"])
    return ok, "event" if ok else "missing people", event.model_dump_json()


def arithmetic(client: OpenAI, model: str, prompt: dict[str, Any], system: str) -> Answer:
    """Right when the answer's last integer is the expected one (the thoughts are not read)."""
    reply = client.chat.completions.create(
        model=model,
        messages=chat(system, prompt["user"]),
        reasoning_effort="low",  # the server's thinking budget for "low"
        max_tokens=1536,  # room for the whole budget and an answer
        seed=SEED,
    )
    content = reply.choices[0].message.content or ""
    numbers = re.findall(r"-?\d+", content.replace(",", ""))
    if not numbers:
        return False, "no number", content
    ok = int(numbers[-1]) == prompt["answer"]
    return ok, "answer" if ok else "wrong number", content


def decode_rate(client: OpenAI, model: str) -> float:
    """Greedy, streamed: tokens after the first over the time after the first (no prefill)."""
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": LONG_PROMPT}],
        max_tokens=128,
        temperature=0,
        seed=SEED,
        stream=True,
        stream_options={"include_usage": True},
    )
    first = last = 0.0
    tokens = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    return (tokens - 1) / max(last - first, 1e-9)


def score(
    name: str,
    prompts: list[dict[str, Any]],
    ask: Callable[[dict[str, Any]], Answer],
    log: list[dict[str, Any]],
) -> str:
    """`k/n` for one set; every reply goes to the answers log."""
    correct = 0
    for i, prompt in enumerate(prompts):
        try:
            ok, kind, reply = ask(prompt)
        except (OpenAIError, ValidationError) as exc:
            if "not installed" in str(exc):
                raise TierUnavailable("not installed") from exc
            ok, kind, reply = False, f"error: {type(exc).__name__}", str(exc)[:300]
        correct += ok
        log.append({"set": name, "prompt": i, "ok": ok, "kind": kind, "reply": reply})
    return f"{correct}/{len(prompts)}"


def measure(client: OpenAI, model: str, quick: bool, log: list[dict[str, Any]]) -> list[str]:
    """One tier's row: the three sets' scores and its decode rate."""
    calls = load("function_calls.json", quick)
    events = load("extraction.json", quick)
    sums = load("arithmetic.json", quick)
    return [
        score("function_calls", calls["prompts"],
              lambda p: function_call(client, model, p, calls["tools"]), log),
        score("extraction", events["prompts"],
              lambda p: extraction(client, model, p, events["system"]), log),
        score("arithmetic", sums["prompts"],
              lambda p: arithmetic(client, model, p, sums["system"]), log),
        f"{decode_rate(client, model):.1f}",
    ]  # fmt: skip


@contextmanager
def serve(tier: str, work: Path) -> Iterator[OpenAI]:
    """One openvertex serving only this tier, ready when GET /readyz answers 200."""
    data = work / tier
    data.mkdir(parents=True)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    (data / "models").symlink_to(WEIGHTS)  # weights joined once, state fresh every run
    config = data / "models.toml"
    config.write_text(
        f'[[models]]\nnames = ["tier-{tier}"]\nmodel = {json.dumps(MODELS.get(tier, tier))}\n'
        "parallel = 1\n"
    )
    port = servers.free_port()
    cmd = [
        sys.executable, "-m", "openvertex", "serve", "--no-auth", "--port", str(port),
        "--data-dir", str(data), "--config", str(config), "--embedding-model", "",
    ]  # fmt: skip
    log = RESULTS / f"quality-{tier}.log"
    base = f"http://127.0.0.1:{port}"
    with servers.process(cmd, log) as proc:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                said = log.read_text()
                raise TierUnavailable(
                    "not installed" if "not installed" in said or "No GGUF model" in said
                    else f"did not start (see {log.relative_to(HERE.parent)})"
                )  # fmt: skip
            if time.monotonic() > deadline:
                raise TierUnavailable(f"not ready in {READY_TIMEOUT_S} s")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield OpenAI(base_url=f"{base}/v1", api_key="any", timeout=900, max_retries=0)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_quality(tiers: list[str], quick: bool) -> str:
    """Every tier in turn; the markdown table (also written to bench/results/quality.md)."""
    RESULTS.mkdir(exist_ok=True)
    rows, answers = [], []
    with tempfile.TemporaryDirectory(prefix="openvertex-quality-") as work:
        for tier in tiers:
            if (busy := psutil.cpu_percent(interval=1)) > 25:  # llama.cpp slows down a lot
                say(f"quality: the CPUs are {busy:.0f}% busy before {tier}: timings are noisy")
            started = time.perf_counter()
            log: list[dict[str, Any]] = []
            try:
                with serve(tier, Path(work)) as client:
                    say(f"quality: {tier} ready in {time.perf_counter() - started:.0f} s")
                    cells = measure(client, f"tier-{tier}", quick, log)
            except TierUnavailable as exc:
                cells = [str(exc)] + [""] * 3
            wall = time.perf_counter() - started
            kinds = Counter(a["kind"] for a in log if not a["ok"])
            say(f"quality: {tier}: {' | '.join(cells)} in {wall:.0f} s; misses: {dict(kinds)}")
            rows.append([tier, *cells, f"{wall:.0f}"])
            answers += [{"tier": tier, **a} for a in log]
    with (RESULTS / "quality-answers.jsonl").open("w") as out:
        out.writelines(json.dumps(a) + "\n" for a in answers)
    quick_note = f" (--quick: the first {QUICK} prompts of each set)" if quick else ""
    caption = (
        f"_answer quality per tier{quick_note}; default sampling, seed {SEED}, "
        f"one prompt at a time; {time.strftime('%Y-%m-%d')}_"
    )
    lines = [
        caption,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---" + "|--:" * (len(COLUMNS) - 1) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    markdown = "\n".join(lines) + "\n"
    (RESULTS / "quality.md").write_text(markdown)
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", default=",".join(DEFAULT_TIERS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK} prompts of each set")
    args = parser.parse_args()
    # Turn SIGTERM into SystemExit so the server's context manager still stops it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(run_quality([t.strip() for t in args.tiers.split(",") if t.strip()], args.quick))


if __name__ == "__main__":
    main()
