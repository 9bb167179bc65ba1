"""The interface every backend implements: one request in, one event stream out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from openvertex.core.request import Event, GenerationRequest


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What runs underneath, told honestly to clients through `/models`."""

    backend: str
    model: str
    context_window: int
    input_modalities: tuple[str, ...] = ("text",)
    details: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    info: EngineInfo

    @property
    def ready(self) -> bool: ...

    async def start(self) -> None:
        """Load the model; `ready` turns true when it can serve."""

    async def close(self) -> None: ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[Event]:
        """Generate one choice (`request.n` is 1 here).

        Stopping iteration early (closing the generator) must stop the work
        and free whatever slot it held.
        """
        ...
