"""llama.cpp, in process, through the prebuilt `xllamacpp` wheel.

One `xllamacpp.Server` holds the model and `parallel` slots; llama.cpp batches
every running request together (continuous batching). Its calls block, so each
generation runs on a worker thread and hands tokens back to the event loop
through a queue. Returning True from the streaming callback stops llama.cpp at
once and frees the slot: that is how a closed stream cancels its generation.

Each generation runs in a slot openvertex picks (`slots.py`), so one project's
cached prompt never speeds up, or shows in the usage of, another's; llama.cpp's
RAM cache of prompts, which would move them between slots, is off.

Its tokenizer and properties are reached through llama.cpp's own HTTP listener,
locked to openvertex (`listener.py`).

The model loads on first use and unloads when idle (`residency.py`); what its chat
template taught (tool format, thinking markers) is kept across unloads.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import xllamacpp

from openvertex.catalog.entries import Sampling
from openvertex.core.events import Event, Finish, TextDelta, TokenLogprob, Usage
from openvertex.core.request import GenerationRequest
from openvertex.engines.base import Capabilities, Token
from openvertex.engines.llamacpp.chat_template import ChatTemplate
from openvertex.engines.llamacpp.listener import LockedServer
from openvertex.engines.llamacpp.output import output_instruction, reply_grammar
from openvertex.engines.llamacpp.residency import Residency, Resident
from openvertex.engines.llamacpp.slots import Slots
from openvertex.engines.llamacpp.thinking import (
    PROMPTED,
    Phase,
    effective_budget,
    markers_for,
    think_then_answer,
    thinking_messages,
)
from openvertex.engines.prompted.tool_calls import read_tool_calls
from openvertex.engines.prompted.tool_format import as_plain_text, template_tool
from openvertex.engines.prompted.turns import turns_of, with_system_instruction
from openvertex.errors import Internal, InvalidArgument, OpenVertexError, Unavailable

_END = object()
_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's "pick a random seed"


class LlamaCppEngine:
    def __init__(
        self,
        weights: Callable[[], Path],
        name: str,
        *,
        file: str,
        footprint: int,
        residency: Residency,
        parallel: int = 4,
        context_per_slot: int = 4096,
        threads: int | None = None,
        sampling: Sampling | None = None,
    ) -> None:
        self._weights = weights
        self.name = name
        self.file = file
        self.sampling = sampling or Sampling()
        self.resident = Resident(name, footprint, self._load, self._unload, residency)
        self.parallel = parallel
        self.context_per_slot = context_per_slot
        self.threads = threads
        self._server: LockedServer | None = None
        self._template: ChatTemplate | None = None
        self._modalities: tuple[str, ...] = ("text",)
        self._markers = PROMPTED
        self._slots = Slots(parallel)
        # Generations wait inside llama.cpp for a free slot, so allow many threads.
        self._pool = ThreadPoolExecutor(max_workers=128, thread_name_prefix="llama")

    @property
    def ready(self) -> bool:
        return True  # it loads on first use

    @property
    def capabilities(self) -> Capabilities:
        native_tools = self._template is not None and self._template.knows_tools
        known = self._template is not None  # what the chat template says, once it is read
        return Capabilities(
            backend=f"llama.cpp (xllamacpp {xllamacpp.__version__}, in process, CPU)",
            weights=self.file,
            context_window=self.context_per_slot,
            slots=self.parallel,
            input_modalities=self._modalities,
            tools="native" if native_tools else "prompted",
            thinking="native" if self._markers.native else "prompted",
            details={
                "model": self.name,
                "loaded": "yes" if self.resident.loaded else "no: loads on first use",
                "parallel_slots": str(self.parallel),
                "thinking": (
                    "native" if self._markers.native else "prompted (not trained to think)"
                )
                if known
                else "known once loaded",
                "tools": (
                    "native (chat template)"
                    if native_tools
                    else "prompted (tools in the system turn)"
                )
                if known
                else "known once loaded",
            },
        )

    async def start(self) -> None:
        """Nothing yet: the model loads on first use."""

    def _load(self) -> None:
        params = xllamacpp.CommonParams()
        params.model.path = str(self._weights())
        params.n_parallel = self.parallel
        params.n_ctx = self.parallel * self.context_per_slot  # llama.cpp splits it per slot
        if self.threads:
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
        params.cache_prompt = True
        params.cache_ram_mib = 0  # it would carry a prompt to another project's slot
        params.verbosity = 2  # warnings and errors; per-request timings are noise here
        self._server = LockedServer(params)
        props = self._server.call("/props")
        self._modalities = (
            "text",
            *tuple(kind for kind, on in (props.get("modalities") or {}).items() if on),
        )
        template = props.get("chat_template") or ""
        self._markers = markers_for(template)
        self._template = ChatTemplate(
            template,
            bos_token=props.get("bos_token") or "",
            eos_token=props.get("eos_token") or "",
        )

    def _unload(self) -> None:
        self._server = None  # xllamacpp stops its loop when the Server is destroyed

    async def close(self) -> None:
        self._server = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def check(self, request: GenerationRequest) -> None:
        if request.output is None and not (request.tools and request.tools.callable):
            return  # nothing to compile
        # Compiled off the event loop, and cached: generate() reuses it.
        await asyncio.to_thread(reply_grammar, request)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[Event]:
        async with self.resident.use():
            async for event in self._generate(request):
                yield event

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[Event]:
        budget = effective_budget(request.thinking.budget, self._markers)
        # Rendering a long conversation and compiling a schema are CPU work: off the loop.
        prompt, grammar = await asyncio.to_thread(
            lambda: (self._prompt(request, budget), reply_grammar(request))
        )
        # The context bounds every reply anyway; clamping keeps huge values sane.
        limit = min(request.sampling.max_tokens or self.context_per_slot, self.context_per_slot)
        async with self._slots.hold(request.cache_scope) as slot:
            complete = functools.partial(self._complete, request, grammar, slot)
            if request.prompt is not None:  # a legacy completion: continued as is, no thinking
                phases = complete(Phase(prompt, limit))
            else:
                phases = think_then_answer(
                    complete, prompt, budget=budget, limit=limit, markers=self._markers
                )
            events = phases
            if request.tools is not None and request.tools.callable:
                events = read_tool_calls(phases, frozenset(request.tools.allowed))
            async for event in events:
                yield event

    async def count_tokens(self, request: GenerationRequest) -> int:
        async with self.resident.use():
            budget = effective_budget(request.thinking.budget, self._markers)
            prompt = await asyncio.to_thread(self._prompt, request, budget)
            return len(await self._tokenize(prompt))

    async def tokenize(self, text: str) -> list[Token]:
        async with self.resident.use():
            return await self._tokenize(text)

    async def _tokenize(self, text: str) -> list[Token]:
        body = {"content": text, "with_pieces": True}
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(self._pool, self._server.call, "/tokenize", body)
        return [Token(t["id"], _piece_bytes(t["piece"])) for t in reply["tokens"]]

    def _prompt(self, request: GenerationRequest, budget: int) -> str:
        """The prompt text; tools go through the template when it knows them, else as text."""
        assert self._template is not None
        if request.prompt is not None:
            return request.prompt
        turns = with_system_instruction(
            turns_of(request.messages), output_instruction(request.output)
        )
        turns = thinking_messages(turns, budget, self._markers)
        use = request.tools
        tools = use.tools if use is not None and use.callable else ()
        if self._template.knows_tools:
            return self._template.render(turns, tools=[template_tool(t) for t in tools] or None)
        return self._template.render(as_plain_text(turns, tools))

    async def _complete(
        self, request: GenerationRequest, grammar: str | None, slot: int, phase: Phase
    ) -> AsyncIterator[Event]:
        """One llama.cpp completion, streamed: the whole reply, or one phase of it."""
        body = _completion_body(request, grammar, phase, self.sampling)
        body["id_slot"] = slot
        body["cache_prompt"] = self._slots.warm(slot, request.cache_scope)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if stop.is_set():
                return True  # tells llama.cpp to stop now and free the slot
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return False

        def run() -> None:
            try:
                reply = self._server.server.handle_completions(body, on_chunk)  # type: ignore[union-attr]
                if isinstance(reply, dict) and "error" in reply:
                    loop.call_soon_threadsafe(queue.put_nowait, reply)
            except Exception as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _END)

        loop.run_in_executor(self._pool, run)
        top_logprobs = request.sampling.top_logprobs
        where = "prompt" if request.prompt is not None else "messages"
        try:
            while (chunk := await queue.get()) is not _END:
                if isinstance(chunk, Exception):
                    raise Internal(f"llama.cpp failed: {chunk}") from chunk
                for event in _events(chunk, top_logprobs, where):
                    yield event
        finally:
            stop.set()


def _completion_body(
    request: GenerationRequest, grammar: str | None, phase: Phase, defaults: Sampling
) -> dict[str, Any]:
    s = request.sampling
    body: dict[str, Any] = {
        "prompt": phase.prompt,
        "stream": True,
        "n_predict": phase.max_tokens,
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
    }
    if s.temperature is not None:
        body["temperature"] = s.temperature
    if s.top_p is not None:
        body["top_p"] = s.top_p
    if (top_k := s.top_k if s.top_k is not None else defaults.top_k) is not None:
        body["top_k"] = top_k
    if defaults.repeat_penalty is not None:
        body["repeat_penalty"] = defaults.repeat_penalty
    if s.seed is not None:
        seed = s.seed & 0xFFFFFFFF
        body["seed"] = seed - 1 if seed == _RANDOM_SEED else seed
    if phase.think_until:
        body["stop"] = [phase.think_until]
        return body
    body["stop"] = list(s.stop)
    if phase.answer_until and grammar is None:  # a stop inside JSON would break it
        body["stop"].append(phase.answer_until)
    if s.logprobs:
        body["n_probs"] = max(s.top_logprobs, 1)
    if grammar is not None:
        body["grammar"] = grammar
    return body


def _events(chunk: dict[str, Any], top_logprobs: int, where: str) -> Iterator[Event]:
    """Turn one llama.cpp streaming chunk into openvertex events."""
    if "error" in chunk:
        raise _error(chunk["error"], where)
    choice = chunk["choices"][0]
    text = choice.get("text") or ""
    logprobs = (choice.get("logprobs") or {}).get("content")
    if text or logprobs:
        yield TextDelta(text, _logprobs(logprobs, top_logprobs) if logprobs else None)
    if reason := choice.get("finish_reason"):
        usage = chunk.get("usage") or {}
        yield Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
        )
        yield Finish("length" if reason == "length" else "stop")


def _logprobs(entries: list[dict[str, Any]], top: int) -> tuple[TokenLogprob, ...]:
    def one(e: dict[str, Any], alternatives: tuple[TokenLogprob, ...] = ()) -> TokenLogprob:
        raw = e.get("bytes")
        return TokenLogprob(e["token"], e["logprob"], tuple(raw) if raw else None, alternatives)

    return tuple(one(e, tuple(one(t) for t in e.get("top_logprobs", [])[:top])) for e in entries)


def _piece_bytes(piece: str | list[int]) -> bytes:
    """llama.cpp gives a token's piece as text, or as byte values when it is not UTF-8."""
    return piece.encode() if isinstance(piece, str) else bytes(piece)


def _error(error: dict[str, Any], where: str) -> OpenVertexError:
    """llama.cpp's refusal; `where`: the request field that holds the prompt."""
    message = error.get("message", "llama.cpp refused the request")
    if error.get("type") == "exceed_context_size_error":
        return InvalidArgument(
            f"The prompt is {error.get('n_prompt_tokens')} tokens, more than the model's "
            f"context window of {error.get('n_ctx')} tokens.",
            param=where,
        )
    if error.get("code") == 400:
        return InvalidArgument(message)
    if error.get("code") == 503:
        return Unavailable(message)
    return Internal(message)
