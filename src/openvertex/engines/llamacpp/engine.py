"""llama.cpp through the prebuilt `xllamacpp` wheel, one runner process per model.

The runner (`runner.py`) holds the model and `parallel` slots; llama.cpp batches
every running request together (continuous batching). Each generation is one
streamed `/v1/completions` call to it; closing that stream stops llama.cpp and
frees the slot: that is how a closed client stream cancels its generation.

Each generation runs in a slot openvertex picks (`slots.py`), so one project's
cached prompt never speeds up, or shows in the usage of, another's; llama.cpp's
RAM cache of prompts, which would move them between slots, is off.

The residency loads the model at start-up or on first use, and may unload it when idle
(`residency.py`); what its chat template taught (tool format, thinking markers) is kept
across unloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

from openvertex.core.events import Event, Finish, TextDelta, TokenLogprob, Usage
from openvertex.core.request import DefaultSampling, GenerationRequest
from openvertex.engines.base import Capabilities, Token
from openvertex.engines.constraints.output import output_instruction, reply_grammar
from openvertex.engines.llamacpp.chat_template import ChatTemplate
from openvertex.engines.llamacpp.residency import Residency, Resident
from openvertex.engines.llamacpp.runner import XLLAMACPP, Params, Runner
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

_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's "pick a random seed"
# xllamacpp's `common_speculative_type` values (its enum; the parent does not import it).
SPECULATIVE_TYPES = {"none": 0, "ngram-simple": 6, "ngram-mod": 9}


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
        sampling: DefaultSampling | None = None,
        speculative: str = "none",
        preload: bool = False,
    ) -> None:
        self._weights = weights
        self.name = name
        self.file = file
        self.sampling = sampling or DefaultSampling()
        self.speculative = speculative
        self.parallel = parallel
        self.context_per_slot = context_per_slot
        runner = Runner(name, self._params, threads)
        self.resident = Resident(runner, footprint, residency, self._learn, preload)
        self._template: ChatTemplate | None = None
        self._modalities: tuple[str, ...] = ("text",)
        self._markers = PROMPTED
        self._slots = Slots(parallel)

    @property
    def ready(self) -> bool:
        return True  # a request waits for a load under way, or starts one

    @property
    def capabilities(self) -> Capabilities:
        native_tools = self._template is not None and self._template.knows_tools
        known = self._template is not None  # what the chat template says, once it is read
        return Capabilities(
            backend=f"llama.cpp (xllamacpp {XLLAMACPP}, runner process, CPU)",
            weights=self.file,
            context_window=self.context_per_slot,
            slots=self.parallel,
            input_modalities=self._modalities,
            details={
                "model": self.name,
                "loaded": "yes" if self.resident.loaded else "no: loads on first use",
                "threads": (
                    str(self.resident.runner.pinned)
                    if self.resident.runner.pinned
                    else "the cores follow the work"
                ),
                "parallel_slots": str(self.parallel),
                "speculative": self.speculative,
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
        """Nothing yet: the model loads at start-up with the others, or on first use."""

    def _params(self) -> Params:
        """The runner's settings (blocking: finding the weights may assemble them)."""
        return {
            "model.path": str(self._weights()),
            "n_parallel": self.parallel,
            "n_ctx": self.parallel * self.context_per_slot,  # llama.cpp splits it per slot
            "cache_prompt": True,
            "cache_ram_mib": 0,  # it would carry a prompt to another project's slot
            # No n_cache_reuse: cached chunks moved into place (a history changed in the
            # middle) round differently from a prompt read afresh, and a seed must reproduce.
            "speculative.types": [SPECULATIVE_TYPES[self.speculative]],
        }

    async def _learn(self, runner: Runner) -> None:
        """What a freshly loaded model's properties say: its template and modalities."""
        props = await runner.call("/props")
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

    async def close(self) -> None:
        await self.resident.runner.stop()

    async def check(self, request: GenerationRequest) -> None:
        if request.output is None and not (request.tools and request.tools.callable):
            return  # nothing to compile
        # Compiled off the event loop, and cached: generate() reuses it.
        await asyncio.to_thread(reply_grammar, request)

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        # Each layer is closed inside the block it holds (the runner's use, the slot), so
        # that closing the reply frees them at once, not when the garbage collector runs.
        async with (
            self.resident.use() as runner,
            contextlib.aclosing(self._generate(runner, request)) as events,
        ):
            async for event in events:
                yield event

    async def _generate(
        self, runner: Runner, request: GenerationRequest
    ) -> AsyncGenerator[Event, None]:
        budget = effective_budget(request.thinking.budget, self._markers)
        # Rendering a long conversation and compiling a schema are CPU work: off the loop.
        prompt, grammar = await asyncio.to_thread(
            lambda: (self._prompt(request, budget), reply_grammar(request))
        )
        # The context bounds every reply anyway; clamping keeps huge values sane.
        limit = min(request.sampling.max_tokens or self.context_per_slot, self.context_per_slot)
        async with self._slots.hold(request.cache_scope, prompt) as slot:
            complete = functools.partial(self._complete, runner, request, grammar, slot)
            if request.prompt is not None:  # a legacy completion: continued as is, no thinking
                phases = complete(Phase(prompt, limit))
            else:
                phases = think_then_answer(
                    complete, prompt, budget=budget, limit=limit, markers=self._markers
                )
            events = phases
            if request.tools is not None and request.tools.callable:
                events = read_tool_calls(phases, frozenset(request.tools.allowed))
            async with contextlib.aclosing(events):
                async for event in events:
                    yield event

    async def count_tokens(self, request: GenerationRequest) -> int:
        async with self.resident.use(computing=False) as runner:
            return len(await _tokenize(runner, request.own_text))

    async def tokenize(self, text: str) -> list[Token]:
        async with self.resident.use(computing=False) as runner:
            return await _tokenize(runner, text)

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
        self,
        runner: Runner,
        request: GenerationRequest,
        grammar: str | None,
        slot: int,
        phase: Phase,
    ) -> AsyncGenerator[Event, None]:
        """One llama.cpp completion, streamed: the whole reply, or one phase of it."""
        body = _completion_body(request, grammar, phase, self.sampling)
        body["id_slot"] = slot
        # A seeded sample reads its prompt whole: llama.cpp's logits for a prompt continued
        # from the cache differ by a hair from a whole read, and a seed must reproduce.
        s = request.sampling
        seeded = s.seed is not None and s.temperature != 0
        body["cache_prompt"] = self._slots.warm(slot, request.cache_scope) and not seeded
        top_logprobs = request.sampling.top_logprobs
        where = "prompt" if request.prompt is not None else "messages"
        generated: list[str] = []
        # Leaving this block closes the stream, which stops llama.cpp and frees the slot.
        try:
            async with contextlib.aclosing(runner.stream("/v1/completions", body)) as chunks:
                async for chunk in chunks:
                    for event in _events(chunk, top_logprobs, where):
                        if isinstance(event, TextDelta):
                            generated.append(event.text)
                        yield event
        finally:
            self._slots.holds(slot, phase.prompt + "".join(generated))


def _completion_body(
    request: GenerationRequest, grammar: str | None, phase: Phase, defaults: DefaultSampling
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


async def _tokenize(runner: Runner, text: str) -> list[Token]:
    reply = await runner.call("/tokenize", {"content": text, "with_pieces": True})
    return [Token(t["id"], _piece_bytes(t["piece"])) for t in reply["tokens"]]


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
