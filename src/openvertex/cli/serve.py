"""`openvertex serve`: the server, with a key file for a newcomer on first start."""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from openvertex.cli.common import (
    DEFAULT_ACCOUNT,
    DEFAULT_LOCATION,
    DEFAULT_PROJECT,
    ConfigOption,
    DatabaseOption,
    DataDirOption,
    console,
    settings_or_exit,
    write_key_file,
)
from openvertex.config import Settings
from openvertex.errors import Unavailable
from openvertex.store.base import Store


def first_run_key(settings: Settings, store: Store) -> Path | None:
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
        write_key_file(path, key_file)
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
    settings = settings_or_exit(
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
        key_path = first_run_key(settings, application.state.context.store)
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
