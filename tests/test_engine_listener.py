"""llama.cpp's own HTTP listener, opened by each model's runner process, must not be
a way around openvertex: it listens on a Unix socket in a folder only the server's own
user may enter, never on a TCP port, and without its secret key it refuses."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import psutil

PROMPT = {"prompt": "Hello", "n_predict": 2}
CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 2}


def _runners(server) -> list[psutil.Process]:
    return psutil.Process(server.process.pid).children(recursive=True)


def test_llama_cpp_listener_refuses_without_its_key(server, client):
    client.chat.completions.create(model="gemini-2.0-flash", **CHAT)  # the model loads
    own = int(server.url.rsplit(":", 1)[1])
    runners = _runners(server)
    assert runners, "expected a runner process"
    tcp = {
        c.laddr.port
        for p in (psutil.Process(server.process.pid), *runners)
        for c in p.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert tcp == {own}  # no other TCP listener
    sockets = {c.laddr for p in runners for c in p.net_connections("unix") if c.laddr}
    assert sockets, "expected llama.cpp's own listener on a Unix socket"
    for path in sockets:
        folder = Path(path).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # the server's own user only
        transport = httpx.HTTPTransport(uds=path)
        with httpx.Client(transport=transport, base_url="http://runner", timeout=10) as http:
            for method, path_, body in [
                ("POST", "/completion", PROMPT),
                ("POST", "/v1/completions", PROMPT),
                ("POST", "/v1/chat/completions", CHAT),
                ("POST", "/tokenize", {"content": "Hello"}),
                ("GET", "/props", None),
                ("GET", "/v1/models", None),
                ("GET", "/slots", None),
            ]:
                for headers in ({}, {"Authorization": "Bearer any"}):
                    reply = http.request(method, path_, json=body, headers=headers)
                    assert reply.status_code in (401, 403, 404, 501), (path_, reply.status_code)
