"""The `openvertex` command: serve, and manage keys, API keys and project grants."""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from openvertex.catalog.commands import models_app
from openvertex.config import Settings, load_settings
from openvertex.errors import Unavailable
from openvertex.private_files import private_dir, write_private
from openvertex.store import open_store
from openvertex.store.base import ProjectQuota, Store

app = typer.Typer(no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(no_args_is_help=True, help="Service-account keys (for google-auth).")
apikeys_app = typer.Typer(no_args_is_help=True, help="API keys (x-goog-api-key or Bearer).")
projects_app = typer.Typer(no_args_is_help=True, help="Who may call which project.")
app.add_typer(keys_app, name="keys")
app.add_typer(apikeys_app, name="apikeys")
store_app = typer.Typer(no_args_is_help=True, help="The state database itself.")
app.add_typer(projects_app, name="projects")
app.add_typer(store_app, name="store")
app.add_typer(models_app, name="models")
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


def _settings(config: Path | None, **flags: object) -> Settings:
    try:
        return load_settings(config, **flags)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _store(url: str) -> Store:
    try:
        return open_store(url)
    except (ValueError, Unavailable) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _state(config: Path | None, data_dir: Path | None, database_url: str | None) -> Store:
    """The store a management command works on, as the server would open it."""
    return _store(_settings(config, data_dir=data_dir, database_url=database_url).database)


def _write_key_file(path: Path, key_file: dict) -> None:
    """Mode 600, never through a planted link; a stale key file is replaced whole."""
    private_dir(path.parent)
    write_private(path, json.dumps(key_file, indent=2))


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _first_run_key(settings: Settings, store: Store) -> Path | None:
    """With no keys at all, make a default project and key file a newcomer can use."""
    from openvertex.auth.service_accounts import create_key

    path = settings.data_dir.expanduser() / f"{DEFAULT_PROJECT}-key.json"
    if not store.list_keys():
        key_file = create_key(
            store,
            project=DEFAULT_PROJECT,
            name=DEFAULT_ACCOUNT,
            token_uri=settings.token_url,
            now=time.time(),
        )
        _write_key_file(path, key_file)
    if path.is_file():
        key = store.get_key(json.loads(path.read_text()).get("private_key_id", ""))
        if key is not None and key.revoked_at is None:
            return path
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="A catalog name (`openvertex models list`) or a GGUF file, serving every "
            "Gemini name; if unset, each tier of names on the best installed model for it."
        ),
    ] = None,
    embedding_model: Annotated[
        str | None,
        typer.Option(
            help="Embedding model (catalog name or GGUF) for text-embedding-005 and the like; "
            "nomic-embed-text-v1.5 if unset, '' for none."
        ),
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
    parallel: Annotated[int | None, typer.Option(help="Requests decoded together.")] = None,
    context: Annotated[int | None, typer.Option(help="Context window per request, tokens.")] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="CPU threads of each model; unset, the models computing share them."),
    ] = None,
    speculative: Annotated[
        str | None,
        typer.Option(
            help="n-gram drafts: none (the default), ngram-mod or ngram-simple.",
        ),
    ] = None,
    preload: Annotated[
        bool | None,
        typer.Option(
            "--preload/--no-preload",
            help="Load the chat models at start-up (as memory allows), or on first use.",
        ),
    ] = None,
    public_url: Annotated[
        str | None, typer.Option(help="URL clients use to reach this server (token_uri).")
    ] = None,
    queue: Annotated[
        int | None, typer.Option(help="Requests that may wait for a slot; more get 429.")
    ] = None,
    grace: Annotated[
        float | None, typer.Option(help="Seconds in-flight requests get to finish on SIGTERM.")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept any caller. Development only; loopback only.")
    ] = False,
    redis_url: Annotated[
        str | None,
        typer.Option(help="redis://host:port/db: quota windows shared by every replica."),
    ] = None,
    metrics_detail: Annotated[
        bool,
        typer.Option(
            "--metrics-detail", help="Show project ids in /metrics (it is not behind auth)."
        ),
    ] = False,
    allowed_hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-hosts",
            help="With --no-auth, a Host name to serve besides localhost and the bound "
            "address (repeatable; '*' for any).",
        ),
    ] = None,
    max_connections: Annotated[
        int | None, typer.Option(help="Open connections at most; more get 503.")
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a connection has to send a request's headers."),
    ] = None,
) -> None:
    """Start the server."""
    from openvertex.app import create_app
    from openvertex.catalog import source
    from openvertex.media.ocr import unavailable as ocr_unavailable
    from openvertex.server import DrainingServer, server_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(
        config,
        host=host,
        port=port,
        model=model,
        embedding_model=embedding_model,
        data_dir=data_dir,
        parallel=parallel,
        context=context,
        threads=threads,
        preload=preload,
        speculative=speculative,
        public_url=public_url,
        queue=queue,
        grace_seconds=grace,
        auth=False if no_auth else None,
        database_url=database_url,
        redis_url=redis_url,
        metrics_detail=True if metrics_detail else None,
        allowed_hosts=allowed_hosts or None,
        max_connections=max_connections,
        header_timeout_seconds=header_timeout,
    )
    if not settings.auth and not _is_loopback(settings.host):
        console.print("[red]error:[/red] --no-auth only listens on loopback (127.0.0.1, ::1).")
        raise typer.Exit(2)
    try:
        application = create_app(settings)
    except (FileNotFoundError, ValueError, Unavailable) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc

    base = settings.base_url
    vertex = f"{base}/v1/projects/{{project}}/locations/{{location}}/endpoints/openapi"
    console.print(f"openvertex on {base}")
    if settings.media and (missing := ocr_unavailable()):
        console.print(f"[yellow]warning:[/yellow] {missing}", highlight=False)
    for entry in settings.engines:
        if entry.embedding and (missing := source(entry.model, settings.data_dir).missing):
            console.print(
                f"[yellow]warning:[/yellow] embeddings get 503: {missing}", highlight=False
            )
    if settings.auth:
        key_path = _first_run_key(settings, application.state.context.store)
        if key_path is not None:
            console.print("Use it with google-auth, as on Vertex AI:")
            console.print(f"  export GOOGLE_APPLICATION_CREDENTIALS={key_path}")
            vertex = vertex.format(project=DEFAULT_PROJECT, location=DEFAULT_LOCATION)
    else:
        console.print(
            "[bold red]WARNING: authentication is OFF (--no-auth): any caller is accepted.[/]"
        )
    console.print(f"  base_url = {vertex}")
    sign_in = " (sign in with `openvertex apikeys create --admin`)" if settings.auth else ""
    console.print(f"Console: {base}/console{sign_in}")
    uvicorn_config = server_config(application, settings)
    DrainingServer(uvicorn_config, application.state.context.service.drain).run()


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

    settings = _settings(
        config, data_dir=data_dir, database_url=database_url, public_url=server_url
    )
    try:
        key_file = create_key(
            _store(settings.database),
            project=project,
            name=name,
            token_uri=settings.token_url,
            now=time.time(),
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    path = out or Path(f"{project}-{key_file['private_key_id'][:12]}.json")
    _write_key_file(path, key_file)
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
    for key in _state(config, data_dir, database_url).list_keys(project):
        table.add_row(
            key.key_id, key.email, key.project, _when(key.created_at), _when(key.revoked_at)
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
    if not _state(config, data_dir, database_url).revoke_key(key_id, time.time()):
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
    store = _state(config, data_dir, database_url)
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
    for key in _state(config, data_dir, database_url).list_api_keys(project):
        admin = "yes" if key.admin else ""
        table.add_row(key.key_id, key.project, admin, _when(key.created_at), _when(key.revoked_at))
    console.print(table)


@apikeys_app.command("revoke")
def apikeys_revoke(
    key_id: str,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke an API key."""
    if not _state(config, data_dir, database_url).revoke_api_key(key_id, time.time()):
        console.print(f"[red]error:[/red] no active API key {key_id}")
        raise typer.Exit(1)
    console.print(f"Revoked API key {key_id}")


@projects_app.command("grant")
def projects_grant(
    project: str,
    email: str,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Let another project's service account call PROJECT."""
    _state(config, data_dir, database_url).grant(project, email)
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
    store = _state(config, data_dir, database_url)
    current = store.get_quota(project)
    quota = ProjectQuota(
        project,
        rpm if rpm is not None else current.rpm if current else None,
        tpm if tpm is not None else current.tpm if current else None,
    )
    store.set_quota(quota)
    rpm_shown, tpm_shown = ("default" if v is None else v for v in (quota.rpm, quota.tpm))
    console.print(f"Quota for {project}: rpm {rpm_shown}, tpm {tpm_shown}")


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


@app.command()
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
    totals = _state(config, data_dir, database_url).usage_totals(project, _since(since))
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

    source_store, target_store = _store(source), _store(target)
    for table in TABLES:
        rows = source_store.table_rows(table)
        target_store.add_rows(table, rows)
        console.print(f"{table}: {len(rows)} rows")
    source_store.close()
    target_store.close()
