"""One llama.cpp model in its own process, as Ollama runs each model: a runner.

`xllamacpp.Server` holds the GIL for the whole of its load (0.4 s for SmolLM2, 0.9 s for
Qwen2.5-Coder-0.5B, more for bigger models), so loading a model inside openvertex froze
every other request for that long; and two models in one process slowed each other down
even when one was idle (SmolLM2 185 → 111 tok/s beside an idle Qwen; 195 with the idle
one in another process). So each model runs in a child process that starts llama.cpp's
own HTTP server on a Unix socket in a private folder, locked with a random API key, and
openvertex talks to it over HTTP (`runner_http.py`): the same `/v1/completions`,
`/tokenize` and `/v1/embeddings` bodies and replies as in process.

The child reads its settings as JSON on stdin and answers one JSON line once the model
is loaded: where it listens, or why it could not load. Each later line on its stdin is
the number of threads it may compute with (`thread_limit.py`): the residency shares the
cores among the models computing at the moment. It exits when its stdin closes, so it
never outlives openvertex.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from openvertex.engines.llamacpp import thread_limit
from openvertex.engines.llamacpp.runner_http import Exchange, RunnerGone, open_exchange
from openvertex.errors import Unavailable

XLLAMACPP = importlib.metadata.version("xllamacpp")  # the runner's; not imported here

# The child's settings: attribute paths of `xllamacpp.CommonParams` and their values.
Params = dict[str, Any]


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


class Runner:
    """The parent's handle on one runner process."""

    def __init__(self, name: str, params: Callable[[], Params], threads: int | None) -> None:
        self.name = name
        self._params = params  # blocking (it may assemble the weights): run off the loop
        self.pinned = threads  # set by the operator; None: the cores follow the work
        self.follows = False  # started, and its thread count can change while it runs
        self._threads = threads or cores()  # what it may use now
        self._process: asyncio.subprocess.Process | None = None
        self._folder: str | None = None  # private: the socket inside is for openvertex only
        self._socket: str | None = None
        self._headers: dict[str, str] = {}

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def ready(self) -> bool:
        """Loaded and answering: started, and its process has not exited since."""
        return self._socket is not None and self.alive

    @property
    def threads(self) -> int:
        """The threads it computes with now (or will once started)."""
        return self._threads

    @threads.setter
    def threads(self, count: int) -> None:
        if self.pinned is not None or count == self._threads:
            return
        self._threads = count
        if self.follows and self.alive:
            assert self._process is not None and self._process.stdin is not None
            self._process.stdin.write(b"%d\n" % count)

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
        self._folder = tempfile.mkdtemp(prefix="openvertex-runner-")
        threads = self.pinned or cores()
        settings = {
            **await asyncio.to_thread(self._params),
            "api_keys": [api_key],
            "hostnames": [os.path.join(self._folder, "llama.sock")],
            "ui": False,
            "endpoint_slots": False,
            "verbosity": 2,  # warnings and errors; per-request timings are noise here
            "cpuparams.n_threads": threads,
            "cpuparams_batch.n_threads": threads,
        }
        follow, sent = None, self._threads
        if self.pinned is None and (site := await asyncio.to_thread(thread_limit.extension)):
            follow = {"library": site[0], "offset": site[1], "threads": sent}
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps({"params": settings, "follow": follow}).encode())
        self._process.stdin.write(b"\n")
        await self._process.stdin.drain()
        line = (await self._process.stdout.readline()).decode()
        answer = json.loads(line) if line.startswith("{") else {}
        if "socket" not in answer:
            code = await self._process.wait()
            why = answer.get("error") or line.strip()
            raise RuntimeError(why or f"its process exited with code {code} while loading")
        self.follows = bool(answer.get("follows"))
        if self.follows and self._threads != sent:  # its share changed while it loaded
            self._process.stdin.write(b"%d\n" % self._threads)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._socket = answer["socket"]

    async def stop(self) -> None:
        """End the process (its memory goes with it)."""
        process, folder = self._process, self._folder
        self._process = self._socket = self._folder = None
        self.follows = False
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    async def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """One JSON request; a refusal comes back as llama.cpp's `{"error": …}`."""
        exchange = await self._open(path, body, streaming=False)
        try:
            return from_json(await exchange.read())
        except RunnerGone as exc:
            raise self._gone(exc) from exc
        finally:
            exchange.close()

    async def stream(self, path: str, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """The chunks of a streamed reply; closing the iterator stops llama.cpp's work."""
        exchange = await self._open(path, body, streaming=True)
        try:
            if exchange.status != 200:
                yield from_json(await exchange.read())
                return
            async for line in exchange.lines():
                kind, _, data = line.partition(b": ")
                if kind == b"data" and data != b"[DONE]":
                    yield from_json(data)
                elif kind == b"error":
                    yield {"error": from_json(data)}
        except RunnerGone as exc:
            raise self._gone(exc) from exc
        finally:
            exchange.close()

    async def _open(self, path: str, body: dict[str, Any] | None, streaming: bool) -> Exchange:
        if not self.ready:
            raise Unavailable(f"The model {self.name} is not loaded; retry the request.")
        assert self._socket is not None
        method, data = ("GET", b"") if body is None else ("POST", json.dumps(body).encode())
        try:
            return await open_exchange(
                self._socket, method, path, data, self._headers, streaming=streaming
            )
        except RunnerGone as exc:
            raise self._gone(exc) from exc

    def _gone(self, exc: Exception) -> Unavailable:
        if self.alive:  # the process is there but did not answer
            return Unavailable(f"The model {self.name} did not answer ({exc}).")
        return Unavailable(
            f"The model {self.name}'s process exited; it loads again on the next request."
        )


def _serve() -> None:
    """The child: load the model, hand back its socket, then take thread counts until
    stdin closes."""
    import xllamacpp

    # Signals are for openvertex, which drains its requests, then ends this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The pipe to openvertex carries one line, the answer; anything llama.cpp prints
    # goes to stderr, with openvertex's own log.
    handshake = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    setup = json.loads(sys.stdin.readline())
    params = xllamacpp.CommonParams()
    for path, value in setup["params"].items():
        *parents, leaf = path.split(".")
        target = params
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, leaf, value)
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # damaged weights, too little memory: say why, then go
        handshake.write(json.dumps({"error": str(exc)}) + "\n")
        sys.exit(1)
    limit = None
    if follow := setup["follow"]:
        limit = thread_limit.install(follow["library"], follow["offset"], follow["threads"])
    socket = Path(server.listening_address.removeprefix("unix://"))
    answer = {"socket": str(socket), "follows": limit is not None}
    handshake.write(json.dumps(answer) + "\n")
    handshake.close()
    for line in sys.stdin:  # ends when openvertex closes the pipe, or dies
        if limit is not None and line.strip().isdigit():
            limit.threads = max(1, int(line))
    # Gone at once, with no destructor: llama.cpp's would join a thread that may be
    # waiting for the GIL this thread holds (in ThreadLimit), and the memory goes anyway.
    shutil.rmtree(socket.parent, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    _serve()
