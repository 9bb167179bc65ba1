"""Settings come from flags, then OPENVERTEX_* environment, then a TOML file."""

from __future__ import annotations

import httpx
import pytest
from conftest import start_server, stop_server

from openvertex.config import EMBEDDING_MODEL_NAMES, load_settings


def test_precedence_flags_env_file(tmp_path, monkeypatch):
    config = tmp_path / "openvertex.toml"
    config.write_text('port = 9001\nparallel = 2\ncontext = 1024\nserved_models = ["a", "b"]\n')
    monkeypatch.setenv("OPENVERTEX_PARALLEL", "3")
    monkeypatch.setenv("OPENVERTEX_CONTEXT", "2048")
    settings = load_settings(config, context=512)
    assert settings.port == 9001  # file
    assert settings.parallel == 3  # environment over file
    assert settings.context == 512  # flag over environment
    assert settings.served_models == ["a", "b"]
    assert load_settings().port == 8080  # defaults without a file


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("parallel = 0\n")
    with pytest.raises(ValueError):
        load_settings(bad)


def test_served_names_from_a_config_file(tmp_path):
    config = tmp_path / "openvertex.toml"
    config.write_text('served_models = ["my-model"]\nparallel = 1\n')
    server = start_server(tmp_path, "--config", str(config), "--no-auth")
    try:
        ids = [m["id"] for m in httpx.get(f"{server.url}/v1/models").json()["data"]]
        assert ids == ["my-model", *EMBEDDING_MODEL_NAMES]
        chat = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={
                "model": "my-model",
                "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 2,
            },
            timeout=60,
        )
        assert chat.status_code == 200 and chat.json()["model"] == "my-model"
        missing = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": "gemini-2.0-flash", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert missing.status_code == 404
    finally:
        stop_server(server)


def test_missing_model_file_exits_with_a_message(tmp_path):
    with pytest.raises(RuntimeError, match="No GGUF model file"):
        start_server(tmp_path, "--model", str(tmp_path / "nope.gguf"))


def test_any_gguf_path_is_served(tmp_path):
    from openvertex.catalog import resolve_model_path

    other = tmp_path / "my-model.gguf"
    other.symlink_to(resolve_model_path(None))
    server = start_server(tmp_path, "--model", str(other), "--no-auth", "--parallel", "1")
    try:
        card = httpx.get(f"{server.url}/v1/models/gemini-2.0-flash").json()
        assert card["openvertex"]["weights"] == "my-model.gguf"
    finally:
        stop_server(server)
