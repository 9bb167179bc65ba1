"""SIGTERM: stop accepting, let in-flight replies finish within the grace period, exit 0."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
from conftest import MODEL, Server, ledger, start_server


def _stream(server: Server, max_tokens: int, lines: list[str], started: threading.Event) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell me a long story about a cat."}],
        "max_tokens": max_tokens,
        "stream": True,
        "seed": 1,
    }
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            started.set()
            if line:
                lines.append(line)


def _new_connections_are_refused(server: Server) -> bool:
    for _ in range(50):
        try:
            httpx.get(f"{server.url}/healthz", timeout=2)
        except httpx.ConnectError:
            return True
        except httpx.RemoteProtocolError:
            pass  # accepted just before the listener closed, then dropped unanswered
        time.sleep(0.1)
    return False


def _sigterm_during_a_stream(tmp: Path, grace: str, max_tokens: int) -> tuple[list[str], int, int]:
    """The stream's lines, how many had come when SIGTERM was sent, and the exit code."""
    server = start_server(tmp, "--no-auth", "--grace", grace)
    lines: list[str] = []
    started = threading.Event()
    reader = threading.Thread(target=_stream, args=(server, max_tokens, lines, started))
    reader.start()
    assert started.wait(30)
    server.process.send_signal(signal.SIGTERM)
    at_signal = len(lines)
    assert _new_connections_are_refused(server)  # while the stream goes on
    reader.join(60)
    return lines, at_signal, server.process.wait(60)


def test_in_flight_streams_finish_and_the_exit_code_is_0(tmp_path: Path) -> None:
    lines, at_signal, code = _sigterm_during_a_stream(tmp_path, grace="30", max_tokens=160)
    assert code == 0
    assert len(lines) > at_signal + 10  # it went on after the signal
    assert lines[-1] == "data: [DONE]"
    finish = json.loads(lines[-2].removeprefix("data: "))["choices"][0]["finish_reason"]
    assert finish in ("stop", "length")


def test_a_stream_past_the_grace_period_ends_with_an_error_event(tmp_path: Path) -> None:
    lines, _, code = _sigterm_during_a_stream(tmp_path, grace="1", max_tokens=4000)
    assert code == 0
    last = json.loads(lines[-1].removeprefix("data: "))
    assert last["error"]["code"] == 503 and "grace period" in last["error"]["message"]
    assert len(lines) > 3  # it streamed until the deadline, then said why it stopped


def test_a_request_still_queued_at_the_deadline_gets_a_503(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--no-auth", "--grace", "1", "--parallel", "1")
    lines: list[str] = []
    started = threading.Event()
    streaming = threading.Thread(target=_stream, args=(server, 4000, lines, started))
    streaming.start()
    assert started.wait(30)
    queued: list[httpx.Response] = []
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    waiter = threading.Thread(
        target=lambda: queued.append(
            httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60)
        )
    )
    waiter.start()
    time.sleep(0.5)  # it waits behind the stream for the only slot
    server.process.send_signal(signal.SIGTERM)
    waiter.join(30)
    streaming.join(30)
    assert server.process.wait(30) == 0
    assert queued[0].status_code == 503
    assert "grace period" in queued[0].json()["error"]["message"]
    assert json.loads(lines[-1].removeprefix("data: "))["error"]["code"] == 503
    cut = [row for row in ledger(server) if row["status"] == 503]
    assert len(cut) == 2  # both are in the ledger, the stream with the tokens it got
    assert max(row["completion_tokens"] for row in cut) > 0
