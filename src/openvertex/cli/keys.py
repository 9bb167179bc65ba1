"""`openvertex keys` and `openvertex apikeys`: service-account keys and API keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from openvertex.cli.common import (
    ConfigOption,
    DatabaseOption,
    DataDirOption,
    console,
    open_store_or_exit,
    settings_or_exit,
    state_store,
    utc_time,
    write_key_file,
)

keys_app = typer.Typer(no_args_is_help=True, help="Service-account keys (for google-auth).")
apikeys_app = typer.Typer(no_args_is_help=True, help="API keys (x-goog-api-key or Bearer).")


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project the service account belongs to.")],
    name: Annotated[str, typer.Option(help="Service account name (before the @).")] = "openvertex",
    out: Annotated[Path | None, typer.Option(help="Key file to write.")] = None,
    server_url: Annotated[
        str | None, typer.Option(help="This server's URL, for the key's token_uri.")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a service account key and write its JSON key file."""
    from openvertex.auth.service_accounts import create_key

    settings = settings_or_exit(
        config, data_dir=data_dir, database_url=database_url, public_url=server_url
    )
    try:
        key_file = create_key(
            open_store_or_exit(settings.database),
            project=project,
            name=name,
            token_uri=settings.token_url,
            now=time.time(),
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    path = out or Path(f"{project}-{key_file['private_key_id'][:12]}.json")
    write_key_file(path, key_file)
    console.print(f"Created key {key_file['private_key_id']} for {key_file['client_email']}")
    console.print(f"  export GOOGLE_APPLICATION_CREDENTIALS={path.resolve()}")


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option()] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """List service account keys."""
    table = Table("key id", "service account", "project", "created", "revoked")
    for key in state_store(config, data_dir, database_url).list_keys(project):
        table.add_row(
            key.key_id, key.email, key.project, utc_time(key.created_at), utc_time(key.revoked_at)
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a key: its access tokens stop working at once."""
    if not state_store(config, data_dir, database_url).revoke_key(key_id, time.time()):
        console.print(f"[red]error:[/red] no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"Revoked key {key_id}")


@apikeys_app.command("create")
def apikeys_create(
    project: Annotated[str, typer.Option(help="Project the key acts in.")],
    admin: Annotated[
        bool, typer.Option(help="May act in any project, and open the console (/console).")
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create an API key; it is shown once."""
    from openvertex.auth.credentials import create_api_key
    from openvertex.auth.service_accounts import check_id

    try:
        check_id("project", project)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    store = state_store(config, data_dir, database_url)
    secret, record = create_api_key(store, project=project, now=time.time(), admin=admin)
    kind = "Admin API key" if admin else "API key"
    console.print(f"{kind} {record.key_id} for project {project} (shown only now):")
    print(secret)


@apikeys_app.command("list")
def apikeys_list(
    project: Annotated[str | None, typer.Option()] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """List API keys (ids only; the keys themselves are not kept)."""
    table = Table("key id", "project", "admin", "created", "revoked")
    for key in state_store(config, data_dir, database_url).list_api_keys(project):
        admin = "yes" if key.admin else ""
        table.add_row(
            key.key_id, key.project, admin, utc_time(key.created_at), utc_time(key.revoked_at)
        )
    console.print(table)


@apikeys_app.command("revoke")
def apikeys_revoke(
    key_id: str,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke an API key."""
    if not state_store(config, data_dir, database_url).revoke_api_key(key_id, time.time()):
        console.print(f"[red]error:[/red] no active API key {key_id}")
        raise typer.Exit(1)
    console.print(f"Revoked API key {key_id}")
