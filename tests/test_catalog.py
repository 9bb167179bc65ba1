"""The model catalog: `openvertex models`, assembling weights from parts, the default
mapping of Gemini names to tiers, and models that load on first use and unload when idle
or over the memory budget."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest
from conftest import start_server, stop_server

from openvertex.catalog import ENTRIES, chat_tiers, find
from openvertex.catalog.entries import Assembly, Part, Wheel
from openvertex.catalog.weights import assemble
from openvertex.config import FLASH_NAMES, LITE_NAMES, PRO_NAMES, Settings


def models_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openvertex", "models", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_list_shows_every_entry_installed_or_not(tmp_path: Path) -> None:
    done = models_cli("list", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for entry in ENTRIES:
        assert entry.name in done.stdout
    assert "qwen2.5-coder-1.5b" in done.stdout and "Apache-2.0" in done.stdout


def test_unknown_model_is_a_clear_error() -> None:
    done = models_cli("pull", "gpt-5")
    assert done.returncode == 2
    assert "no model 'gpt-5' in the catalog" in done.stdout


def test_pull_joins_the_parts_once_and_verifies_them(tmp_path: Path) -> None:
    """The 0.5B tier's parts are installed with the test tools: pull only joins them."""
    done = models_cli("pull", "qwen2.5-coder-0.5b", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    entry = find("qwen2.5-coder-0.5b")
    assert entry is not None and entry.assembly is not None
    joined = tmp_path / "models" / entry.assembly.file
    assert joined.stat().st_size == entry.size_bytes
    assert sorted(p.name for p in joined.parent.iterdir()) == [
        joined.name,
        joined.name + ".verified",
    ]
    listed = models_cli("list", "--data-dir", str(tmp_path)).stdout
    assert any("qwen2.5-coder-0.5b" in line and "pulled" in line for line in listed.splitlines())
    written = joined.stat().st_mtime_ns
    again = models_cli("pull", "qwen2.5-coder-0.5b", "--data-dir", str(tmp_path))
    assert again.returncode == 0 and joined.stat().st_mtime_ns == written  # not joined twice


def fake_assembly(tmp_path: Path, chunks: list[bytes]) -> tuple[Assembly, list[Path]]:
    wheel = Wheel("nothing", "0", "0" * 64)
    parts = []
    for i, chunk in enumerate(chunks):
        (part := tmp_path / f"part{i}.bin").write_bytes(chunk)
        parts.append(part)
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    layout = tuple(Part(wheel, p.name) for p in parts)
    return Assembly("join", layout, "model.gguf", digest), parts


def test_assembly_writes_the_joined_file_and_reports_progress(tmp_path: Path) -> None:
    chunks = [b"GGUF" + bytes(5000), bytes(range(256)) * 40, b"tail"]
    assembly, parts = fake_assembly(tmp_path, chunks)
    seen: list[int] = []
    path = assemble(assembly, parts, tmp_path / "models" / "model.gguf", seen.append)
    assert path.read_bytes() == b"".join(chunks)
    assert sum(seen) == len(b"".join(chunks))


def test_a_corrupted_part_leaves_nothing_half_written(tmp_path: Path) -> None:
    assembly, parts = fake_assembly(tmp_path, [b"GGUF" + bytes(5000), b"second part"])
    parts[1].write_bytes(b"second parT")  # one byte flipped after the pin was made
    models = tmp_path / "models"
    with pytest.raises(RuntimeError, match="not the pinned") as refused:
        assemble(assembly, parts, models / "model.gguf")
    assert "openvertex models pull" in str(refused.value)
    assert list(models.iterdir()) == []  # no model file, no partial file, no stamp


def test_default_mapping_puts_each_tier_of_names_on_a_model() -> None:
    """flash-lite on the fastest installed model, flash on the next, pro on the best."""
    tiers = [entry.name for entry in chat_tiers()]
    assert tiers[:2] == ["smollm2-135m", "qwen2.5-coder-0.5b"]  # weights.txt installs both
    served = {name: entry.model for entry in Settings().engines for name in entry.names}
    assert {served[name] for name in LITE_NAMES} == {"smollm2-135m"}
    assert {served[name] for name in FLASH_NAMES} == {"qwen2.5-coder-0.5b"}
    assert {served[name] for name in PRO_NAMES} == {tiers[-1]}
    families = {family: entry.model for entry in Settings().engines for family in entry.families}
    assert families == {
        "gemini-*-flash-lite*": "smollm2-135m",
        "gemini-*-flash*": "qwen2.5-coder-0.5b",
        "gemini-*-pro*": tiers[-1],
    }
    every = {name: e.model for e in Settings(model="smollm2-135m").engines for name in e.names}
    assert set(every.values()) - {"nomic-embed-text-v1.5"} == {"smollm2-135m"}


TWO_MODELS = """
keep_alive_seconds = {keep_alive}
models_memory_mib = {budget}
preload = {preload}
embedding_model = ""
[[models]]
names = ["google/gemini-2.0-flash-lite"]
model = "smollm2-135m"
parallel = 1
[[models]]
names = ["google/gemini-2.5-flash"]
model = "qwen2.5-coder-0.5b"
parallel = 1
"""


def loaded(url: str) -> dict[str, str]:
    cards = httpx.get(f"{url}/v1/models", timeout=10).json()["data"]
    return {card["id"]: card["openvertex"]["loaded"] for card in cards}


def ask(client: openai.OpenAI, model: str) -> None:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hi."}], max_tokens=4
    )
    assert reply.choices[0].message.content is not None


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_models_load_on_first_use_and_unload_when_idle(tmp_path: Path) -> None:
    config = tmp_path / "models.toml"
    config.write_text(TWO_MODELS.format(keep_alive=2, budget=8192, preload="false"))
    server = start_server(tmp_path, "--config", str(config), "--no-auth")
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="any", max_retries=0)
        lite, flash = "google/gemini-2.0-flash-lite", "google/gemini-2.5-flash"
        assert all(state.startswith("no") for state in loaded(server.url).values())
        ask(client, lite)
        assert loaded(server.url) == {lite: "yes", flash: "no: loads on first use"}
        wait_for(lambda: loaded(server.url)[lite].startswith("no"))
        # Said once the runner has ended, which can come a moment after it stops answering.
        wait_for(lambda: "unloaded smollm2-135m (idle for 2 s)" in server.log.read_text())
        assert "loading smollm2-135m" in server.log.read_text()
        ask(client, lite)  # loads again
    finally:
        stop_server(server)


def test_the_memory_budget_unloads_the_least_recently_used(tmp_path: Path) -> None:
    config = tmp_path / "models.toml"
    config.write_text(TWO_MODELS.format(keep_alive=600, budget=500, preload="false"))
    server = start_server(tmp_path, "--config", str(config), "--no-auth")
    try:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="any", max_retries=0)
        lite, flash = "google/gemini-2.0-flash-lite", "google/gemini-2.5-flash"
        ask(client, lite)
        ask(client, flash)  # 93 + 468 MB do not fit in 500: the idle lite tier goes
        assert loaded(server.url) == {lite: "no: loads on first use", flash: "yes"}
        assert "unloaded smollm2-135m (memory budget, for qwen2.5-coder-0.5b)" in (
            server.log.read_text()
        )
    finally:
        stop_server(server)


def test_chat_models_load_at_start_up_while_memory_allows(tmp_path: Path) -> None:
    """Ready means loaded: the tiers in order, as far as the memory budget goes; a model
    loaded at start-up stays loaded past the keep-alive."""
    config = tmp_path / "models.toml"
    config.write_text(TWO_MODELS.format(keep_alive=1, budget=500, preload="true"))
    server = start_server(tmp_path, "--config", str(config), "--no-auth")
    try:
        lite, flash = "google/gemini-2.0-flash-lite", "google/gemini-2.5-flash"
        assert loaded(server.url) == {lite: "yes", flash: "no: loads on first use"}
        log = server.log.read_text()
        assert "not loading qwen2.5-coder-0.5b at start-up: over the memory budget" in log
        time.sleep(2.5)  # past the keep-alive
        assert loaded(server.url)[lite] == "yes"
    finally:
        stop_server(server)
