"""`openvertex projects`: who may call which project, and its quota."""

from __future__ import annotations

from typing import Annotated

import typer

from openvertex.cli.common import (
    ConfigOption,
    DatabaseOption,
    DataDirOption,
    console,
    state_store,
)
from openvertex.store.base import ProjectQuota

projects_app = typer.Typer(no_args_is_help=True, help="Who may call which project.")


@projects_app.command("grant")
def projects_grant(
    project: str,
    email: str,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Let another project's service account call PROJECT."""
    state_store(config, data_dir, database_url).grant(project, email)
    console.print(f"{email} may now call project {project}")


@projects_app.command("set-quota")
def projects_set_quota(
    project: str,
    rpm: Annotated[
        int | None, typer.Option(min=0, max=2**31 - 1, help="Requests per minute; 0 for no limit.")
    ] = None,
    tpm: Annotated[
        int | None, typer.Option(min=0, max=2**31 - 1, help="Tokens per minute; 0 for no limit.")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Set PROJECT's requests and tokens per minute; a running server applies it at once."""
    store = state_store(config, data_dir, database_url)
    current = store.get_quota(project)
    quota = ProjectQuota(
        project,
        rpm if rpm is not None else current.rpm if current else None,
        tpm if tpm is not None else current.tpm if current else None,
    )
    store.set_quota(quota)
    rpm_shown, tpm_shown = ("default" if v is None else v for v in (quota.rpm, quota.tpm))
    console.print(f"Quota for {project}: rpm {rpm_shown}, tpm {tpm_shown}")
