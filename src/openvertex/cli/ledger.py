"""`openvertex usage` and `openvertex store copy`: the ledger and the state database."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from openvertex.cli.common import (
    ConfigOption,
    DatabaseOption,
    DataDirOption,
    console,
    open_store_or_exit,
    state_store,
)

store_app = typer.Typer(no_args_is_help=True, help="The state database itself.")


def _since(text: str | None) -> float | None:
    """`30m`, `2h`, `7d` ago, or an ISO date or time (UTC unless it says otherwise)."""
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        console.print(f"[red]error:[/red] --since takes 30m, 2h, 7d or an ISO date, not {text!r}")
        raise typer.Exit(2) from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def usage(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only requests since: 30m, 2h, 7d, or an ISO date.")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """The usage ledger: requests and tokens by project, caller and model."""
    totals = state_store(config, data_dir, database_url).usage_totals(project, _since(since))
    table = Table(
        "project", "principal", "model", "requests", "errors",
        "prompt tokens", "completion tokens", "reasoning tokens", "mean latency ms",
    )  # fmt: skip
    for t in totals:
        counts = (t.requests, t.errors, t.prompt_tokens, t.completion_tokens, t.reasoning_tokens)
        table.add_row(
            t.project, t.principal, t.model, *map(str, counts), f"{t.mean_latency_ms:.0f}"
        )
    console.print(table)


@store_app.command("copy")
def store_copy(
    source: Annotated[str, typer.Option("--from", help="sqlite:///path or postgresql://…")],
    target: Annotated[str, typer.Option("--to", help="sqlite:///path or postgresql://…")],
) -> None:
    """Copy keys, tokens, grants, quotas and the ledger into another store (e.g. moving a
    single server's SQLite into the PostgreSQL its replicas share). Rows already there
    are kept, so running it twice copies nothing twice."""
    from openvertex.store.sql import TABLES

    source_store, target_store = open_store_or_exit(source), open_store_or_exit(target)
    for table in TABLES:
        rows = source_store.table_rows(table)
        target_store.add_rows(table, rows)
        console.print(f"{table}: {len(rows)} rows")
    source_store.close()
    target_store.close()
