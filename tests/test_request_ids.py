"""Every response carries `x-request-id`; errors repeat it; one JSON log line per request."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from conftest import MODEL, Server


def test_replies_and_errors_carry_the_id(server: Server) -> None:
    ok = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        timeout=60,
    )
    bad = httpx.post(f"{server.url}/v1/chat/completions", json={"model": MODEL}, timeout=60)
    missing = httpx.get(f"{server.url}/v1/nothing-here", timeout=10)
    ids = [r.headers["x-request-id"] for r in (ok, bad, missing)]
    assert len(set(ids)) == 3 and all(i.startswith("req_") for i in ids)
    assert bad.status_code == 400 and bad.json()["error"]["request_id"] == ids[1]
    assert missing.status_code == 404 and missing.json()["error"]["request_id"] == ids[2]


def test_streams_and_refusals_carry_it(server: Server, auth_server: Server) -> None:
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True},
        timeout=60,
    ) as stream:
        assert stream.headers["x-request-id"].startswith("req_")
    refused = httpx.get(f"{auth_server.url}/v1/models", timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]


@pytest.mark.parametrize(("given", "kept"), [("trace-1234abcd", True), ("bad id\u00e9", False)])
def test_a_callers_id_is_kept_when_it_is_plain(server: Server, given: str, kept: bool) -> None:
    reply = httpx.get(
        f"{server.url}/healthz", headers={"x-request-id": given.encode("utf-8")}, timeout=10
    )
    assert (reply.headers["x-request-id"] == given) is kept


def test_access_log_has_one_json_line_per_request_and_no_contents(server: Server) -> None:
    secret = "purple-elephant-7731"
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-not-logged", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": f"Say {secret}"}], max_tokens=4
    )
    request_id = raw.headers["x-request-id"]
    time.sleep(0.2)
    log = server.log.read_text()
    lines = [
        json.loads(line.split("openvertex.access: ", 1)[1])
        for line in log.splitlines()
        if "openvertex.access: " in line
    ]
    mine = [line for line in lines if line["request_id"] == request_id]
    assert len(mine) == 1
    assert mine[0]["path"] == "/v1/chat/completions" and mine[0]["status"] == 200
    assert mine[0]["ms"] > 0
    assert secret not in log and "sk-not-logged" not in log
