"""What every engine offers: declared capabilities, a check, and one event stream per candidate.

An engine receives the request's intent (`core.request`) and compiles it its own
way; it imports core types, never a wire or the service.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from openvertex.core.embedding import Embedding, EmbeddingRequest
from openvertex.core.events import Event
from openvertex.core.request import GenerationRequest

if TYPE_CHECKING:
    from typing_extensions import TypeIs


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What runs underneath and what it can take, told honestly through the model lists."""

    backend: str
    weights: str
    context_window: int  # tokens per request
    slots: int  # requests generated at once
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    piece: bytes


class Engine(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None:
        """Load the model; `ready` turns true when it can serve."""

    async def close(self) -> None: ...

    async def check(self, request: GenerationRequest) -> None:
        """Refuse (400) what this engine cannot serve, before any quota or slot is spent."""

    def generate(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        """Generate one candidate (`request.candidates` is 1 here).

        Stopping iteration early (closing the generator) must stop the work
        and free whatever slot it held.
        """
        ...

    async def count_tokens(self, request: GenerationRequest) -> int:
        """The request's own tokens, as Vertex's countTokens counts them: its text, calls,
        results and tool declarations, without the chat template the model reads them in."""
        ...

    async def tokenize(self, text: str) -> list[Token]: ...


class Embedder(Protocol):
    """An engine that turns texts into vectors; it declares `("embedding",)` as its output."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def embed(self, request: EmbeddingRequest) -> list[Embedding]:
        """One unit vector per input, in order; refuses (400) what it cannot embed."""
        ...


class Residency(Protocol):
    """What the server drives of the models an engine loads in process: their loads at
    start-up and their idle sweep."""

    preloaded: bool  # the start-up loads are done (or were not wanted)

    async def preload(self) -> None: ...

    async def run(self) -> None:
        """Unload what stays idle, until cancelled."""


def embeds(engine: Engine | Embedder) -> TypeIs[Embedder]:
    return "embedding" in engine.capabilities.output_modalities
