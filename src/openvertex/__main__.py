from openvertex.cli import app

app()
