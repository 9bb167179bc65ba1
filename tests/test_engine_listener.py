"""llama.cpp's own HTTP listener, opened by each model's runner process, must not be
a way around openvertex: without its secret key it refuses."""

from __future__ import annotations

import httpx
import psutil

PROMPT = {"prompt": "Hello", "n_predict": 2}
CHAT = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 2}


def _other_listeners(server) -> list[int]:
    own = int(server.url.rsplit(":", 1)[1])
    process = psutil.Process(server.process.pid)
    ports = {
        c.laddr.port
        for p in (process, *process.children(recursive=True))
        for c in p.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert own in ports
    return sorted(ports - {own})


def test_llama_cpp_listener_refuses_without_its_key(server, client):
    client.chat.completions.create(model="gemini-2.0-flash", **CHAT)  # the model loads
    ports = _other_listeners(server)
    assert ports, "expected llama.cpp's own listener in a runner process"
    for port in ports:
        base = f"http://127.0.0.1:{port}"
        for method, path, body in [
            ("POST", "/completion", PROMPT),
            ("POST", "/v1/completions", PROMPT),
            ("POST", "/v1/chat/completions", CHAT),
            ("POST", "/tokenize", {"content": "Hello"}),
            ("GET", "/props", None),
            ("GET", "/v1/models", None),
            ("GET", "/slots", None),
        ]:
            for headers in ({}, {"Authorization": "Bearer any"}):
                reply = httpx.request(method, base + path, json=body, headers=headers, timeout=10)
                assert reply.status_code in (401, 403, 404, 501), (path, reply.status_code)
