"""The `openvertex` command."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from openvertex.app import create_app
from openvertex.config import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
console = Console(soft_wrap=True)


@app.callback()
def main() -> None:
    """openvertex: Vertex AI's OpenAI-compatible endpoint on your own hardware."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    model: Annotated[
        str | None, typer.Option(help="GGUF file to serve; the embedded SmolLM2 if unset.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML settings file.", envvar="OPENVERTEX_CONFIG")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where state is kept.")] = None,
    parallel: Annotated[int | None, typer.Option(help="Requests decoded together.")] = None,
    context: Annotated[int | None, typer.Option(help="Context window per request, tokens.")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for llama.cpp.")] = None,
) -> None:
    """Start the server."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(
            config,
            host=host,
            port=port,
            model=model,
            data_dir=data_dir,
            parallel=parallel,
            context=context,
            threads=threads,
        )
        application = create_app(settings)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    base = settings.base_url
    console.print(f"openvertex on {base}")
    console.print(
        f"  OpenAI base_url: {base}/v1/projects/PROJECT/locations/LOCATION/endpoints/openapi"
    )
    console.print(f"  or plainly:      {base}/v1")
    uvicorn.run(application, host=settings.host, port=settings.port, access_log=False)
