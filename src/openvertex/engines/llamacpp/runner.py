"""One llama.cpp model in its own process, as Ollama runs each model: a runner.

`xllamacpp.Server` holds the GIL for the whole of its load (0.4 s for SmolLM2, 0.9 s for
Qwen2.5-Coder-0.5B, more for bigger models), so loading a model inside openvertex froze
every other request for that long; and two models in one process slowed each other down
even when one was idle (SmolLM2 185 → 111 tok/s beside an idle Qwen; 195 with the idle
one in another process). So each model runs in a child process that starts llama.cpp's
own HTTP server, locked to openvertex with a random API key on loopback, and openvertex
talks to it over HTTP: the same `/v1/completions`, `/tokenize` and `/v1/embeddings`
bodies and replies as in process.

The child reads its settings as JSON on stdin, prints the listening address once the
model is loaded (or why it could not load it), and exits when its stdin closes, so it
never outlives openvertex.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from openvertex.engines.event_stream import event_lines
from openvertex.errors import Unavailable

XLLAMACPP = importlib.metadata.version("xllamacpp")  # the runner's; not imported here

# The child's settings: attribute paths of `xllamacpp.CommonParams` and their values.
Params = dict[str, Any]


class Runner:
    """The parent's handle on one runner process."""

    def __init__(self, name: str, params: Callable[[], Params], threads: int | None) -> None:
        self.name = name
        self._params = params  # blocking (it may assemble the weights): run off the loop
        self._threads = threads  # None: llama.cpp's default, every core
        self._process: asyncio.subprocess.Process | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def ready(self) -> bool:
        """Loaded and answering: started, and its process has not exited since."""
        return self._client is not None and self.alive

    async def start(self) -> None:
        """Start the process and wait until its model is loaded; a failed or abandoned
        start leaves no process behind."""
        await self.stop()  # what is left of one that exited
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        api_key = secrets.token_urlsafe(32)
        settings = {
            **await asyncio.to_thread(self._params),
            "api_keys": [api_key],
            "hostnames": ["127.0.0.1"],
            "ui": False,
            "endpoint_slots": False,
            "verbosity": 2,  # warnings and errors; per-request timings are noise here
        }
        if self._threads:
            settings["cpuparams.n_threads"] = settings["cpuparams_batch.n_threads"] = self._threads
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(settings).encode() + b"\n")
        await self._process.stdin.drain()
        address = (await self._process.stdout.readline()).decode().strip()
        if not address.startswith("http"):
            code = await self._process.wait()
            raise RuntimeError(address or f"its process exited with code {code} while loading")
        self._client = httpx.AsyncClient(
            base_url=address,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(30, read=None),  # a slot may be busy for a long reply
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=64, keepalive_expiry=2
            ),
        )

    async def stop(self) -> None:
        """End the process (its memory goes with it)."""
        process, client = self._process, self._client
        self._process = self._client = None
        if client is not None:
            await client.aclose()
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON request; a refusal comes back as llama.cpp's `{"error": …}`."""
        response = await self._open(path, body)
        try:
            return json.loads(await response.aread())
        except httpx.TransportError as exc:
            raise self._gone(exc) from exc
        finally:
            await response.aclose()

    async def stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The chunks of a streamed reply; closing the iterator stops llama.cpp's work."""
        response = await self._open(path, body)
        try:
            if response.status_code != 200:
                yield json.loads(await response.aread())
                return
            async for line in event_lines(response):
                kind, _, data = line.partition(": ")
                if kind in ("data", "error") and data != "[DONE]":
                    chunk = json.loads(data)
                    yield chunk if kind == "data" else {"error": chunk}
        except httpx.TransportError as exc:
            raise self._gone(exc) from exc
        finally:
            await response.aclose()

    async def _open(self, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """Send a request and read its headers. llama.cpp closes a kept-alive connection
        after a few idle seconds; a request that finds it closed, unanswered, goes again
        on a new connection."""
        client = self._connected()
        request = client.build_request("GET" if body is None else "POST", path, json=body)
        try:
            return await client.send(request, stream=True)
        except httpx.RemoteProtocolError:
            pass  # closed while idle, before answering: once more
        except httpx.TransportError as exc:
            raise self._gone(exc) from exc
        try:
            return await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._gone(exc) from exc

    def _connected(self) -> httpx.AsyncClient:
        if not self.ready:
            raise Unavailable(f"The model {self.name} is not loaded; retry the request.")
        assert self._client is not None
        return self._client

    def _gone(self, exc: Exception) -> Unavailable:
        if self.alive:  # the process is there but did not answer
            return Unavailable(f"The model {self.name} did not answer ({exc}).")
        return Unavailable(
            f"The model {self.name}'s process exited; it loads again on the next request."
        )


def _serve() -> None:
    """The child: load the model, hand back its address, live until stdin closes."""
    import xllamacpp

    # Signals are for openvertex, which drains its requests, then ends this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The pipe to openvertex carries one line, the address; anything llama.cpp prints
    # goes to stderr, with openvertex's own log.
    handshake = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    params = xllamacpp.CommonParams()
    for path, value in json.loads(sys.stdin.readline()).items():
        *parents, leaf = path.split(".")
        target = params
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, leaf, value)
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # damaged weights, too little memory: say why, then go
        handshake.write(f"{exc}\n")
        sys.exit(1)
    handshake.write(server.listening_address + "\n")
    handshake.close()
    sys.stdin.read()  # returns when openvertex closes the pipe, or dies


if __name__ == "__main__":
    _serve()
