"""How Vertex's documentation examples get in: google-auth's service-account flow
against openvertex, end to end."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import google.auth._helpers
import google.auth.transport.requests
import httpx
import openai
import pytest
import uvicorn
from conftest import free_port, openvertex_cli, start_server, stop_server
from fastapi import FastAPI
from google.oauth2 import service_account

from openvertex.app import create_app
from openvertex.config import load_settings

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def test_first_run_prints_how_to_connect(auth_server):
    log = auth_server.log.read_text()
    assert f"export GOOGLE_APPLICATION_CREDENTIALS={auth_server.default_key_file}" in log
    assert "/v1/projects/openvertex-local/locations/us-central1/endpoints/openapi" in log
    assert oct(auth_server.default_key_file.stat().st_mode & 0o777) == "0o600"


def test_keys_cli_create_list_revoke(auth_server, tmp_path):
    def cli(*args: str) -> str:
        return openvertex_cli(auth_server, *args)

    key_file = tmp_path / "key.json"
    cli("keys", "create", "--project", "cli-project", "--name", "robot-one",
        "--out", str(key_file), "--server-url", auth_server.url)  # fmt: skip
    credentials = service_account.Credentials.from_service_account_file(key_file, scopes=SCOPES)
    assert credentials.service_account_email == "robot-one@cli-project.iam.gserviceaccount.com"
    credentials.refresh(google.auth.transport.requests.Request())
    key_id = credentials._signer.key_id
    assert key_id in cli("keys", "list", "--project", "cli-project")
    assert "PRIVATE KEY" not in (auth_server.data_dir / "openvertex.db").read_bytes().decode(
        "latin-1"
    )

    models = (
        f"{auth_server.url}/v1/projects/cli-project/locations/us-central1/endpoints/openapi/models"
    )
    bearer = {"Authorization": f"Bearer {credentials.token}"}
    assert httpx.get(models, headers=bearer).status_code == 200
    cli("keys", "revoke", key_id)
    assert httpx.get(models, headers=bearer).status_code == 401


def test_no_auth_refuses_to_leave_loopback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "openvertex", "serve", "--no-auth", "--host", "0.0.0.0",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "loopback" in done.stdout


def test_no_auth_warns_loudly(server):
    assert "authentication is OFF" in server.log.read_text()


class FakeClock:
    """One clock for the server and for google-auth, so an hour passes instantly."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def utcnow(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now, dt.UTC).replace(tzinfo=None)


@pytest.fixture
def clocked_server(tmp_path: Path, monkeypatch) -> Iterator[tuple[str, FakeClock, Path]]:
    """A real server on loopback, in this process, running on a clock the test moves."""
    clock = FakeClock()
    monkeypatch.setattr(google.auth._helpers, "utcnow", clock.utcnow)
    port = free_port()
    settings = load_settings(port=port, data_dir=tmp_path, parallel=1)
    app = create_app(settings, clock=clock)
    from openvertex.cli.serve import first_run_key  # the same first-run key `serve` makes

    key_file = first_run_key(settings, app.state.context.store)
    with serving_in_process(app, port) as url:
        yield url, clock, key_file


@contextlib.contextmanager
def serving_in_process(app: FastAPI, port: int) -> Iterator[str]:
    """`app` served on loopback from a thread of this process, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "in-process server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_callable_api_key_keeps_working_across_expiry(clocked_server):
    url, clock, key_file = clocked_server
    credentials = service_account.Credentials.from_service_account_file(key_file, scopes=SCOPES)
    refreshes = []

    def fresh_token() -> str:
        if not credentials.valid:
            credentials.refresh(google.auth.transport.requests.Request())
            refreshes.append(credentials.token)
        return credentials.token

    client = openai.OpenAI(
        base_url=f"{url}/v1/projects/openvertex-local/locations/us-central1/endpoints/openapi",
        api_key=fresh_token,
        max_retries=0,
    )
    ask = dict(model="gemini-2.0-flash", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    assert client.chat.completions.create(**ask).choices
    first = refreshes[-1]

    clock.now += 3600 + 1  # an hour later the first token is dead...
    expired = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {first}"})
    assert expired.status_code == 401, expired.text
    assert expired.json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"

    assert client.chat.completions.create(**ask).choices  # ...and the SDK carries on
    assert len(refreshes) == 2 and refreshes[1] != first


def test_tokens_and_keys_survive_a_restart(tmp_path):
    first = start_server(tmp_path, "--parallel", "1")
    try:
        key_file = first.default_key_file
        credentials = service_account.Credentials.from_service_account_file(key_file, scopes=SCOPES)
        credentials.refresh(google.auth.transport.requests.Request())
    finally:
        stop_server(first)
    port = int(first.url.rsplit(":", 1)[1])  # the key file's token_uri names it
    again = start_server(tmp_path, "--parallel", "1", port=port)
    try:
        assert again.default_key_file == key_file
        bearer = {"Authorization": f"Bearer {credentials.token}"}
        assert httpx.get(f"{again.url}/v1/models", headers=bearer).status_code == 200
        credentials.refresh(google.auth.transport.requests.Request())  # the key still signs in
        assert "export GOOGLE_APPLICATION_CREDENTIALS" in again.log.read_text()
    finally:
        stop_server(again)
