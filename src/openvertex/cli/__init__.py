"""The `openvertex` command: serve, and manage keys, API keys, projects, the ledger and
the model catalog."""

from __future__ import annotations

import typer

from openvertex.cli.keys import apikeys_app, keys_app
from openvertex.cli.ledger import store_app, usage
from openvertex.cli.models import models_app
from openvertex.cli.projects import projects_app
from openvertex.cli.serve import serve

app = typer.Typer(no_args_is_help=True, add_completion=False)
app.command()(serve)
app.command()(usage)
app.add_typer(keys_app, name="keys")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(projects_app, name="projects")
app.add_typer(store_app, name="store")
app.add_typer(models_app, name="models")
