"""What the commands share: the console, their options, and the store they open."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openvertex.config import Settings, load_settings
from openvertex.errors import Unavailable
from openvertex.private_files import private_dir, write_private
from openvertex.store import open_store
from openvertex.store.base import Store

# Piped output (scripts, tests) gets whole lines: key ids must not be cut by table wrapping.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

DEFAULT_PROJECT = "openvertex-local"
DEFAULT_ACCOUNT = "openvertex"
DEFAULT_LOCATION = "us-central1"

ConfigOption = Annotated[
    Path | None, typer.Option(help="TOML settings file.", envvar="OPENVERTEX_CONFIG")
]
DataDirOption = Annotated[Path | None, typer.Option(help="Where state is kept.")]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        help="postgresql://… for state shared by replicas; SQLite in the data dir if unset.",
        envvar="OPENVERTEX_DATABASE_URL",
    ),
]


def settings_or_exit(config: Path | None, **flags: object) -> Settings:
    try:
        return load_settings(config, **flags)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def open_store_or_exit(url: str) -> Store:
    try:
        return open_store(url)
    except (ValueError, Unavailable) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def state_store(config: Path | None, data_dir: Path | None, database_url: str | None) -> Store:
    """The store a management command works on, as the server would open it."""
    return open_store_or_exit(
        settings_or_exit(config, data_dir=data_dir, database_url=database_url).database
    )


def write_key_file(path: Path, key_file: dict) -> None:
    """Mode 600, never through a planted link; a stale key file is replaced whole."""
    private_dir(path.parent)
    write_private(path, json.dumps(key_file, indent=2))


def utc_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""
