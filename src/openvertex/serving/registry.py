"""Which model names this server answers to, and what serves each: engine, slots, settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from openvertex.engines.base import Embedder, Engine, Residency
from openvertex.serving import gemini_models
from openvertex.serving.admission import Admission


def canonical(name: str) -> str:
    """Names answer with or without Vertex's `google/` publisher prefix."""
    return name.removeprefix("google/")


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One served name, or a family of names (`gemini-*-pro*`). Names configured
    together share one engine and its slots."""

    name: str
    engine: Engine | Embedder
    admission: Admission
    effort_budgets: Mapping[str, int]  # effort level → thinking budget
    tools: bool = True  # False: requests with tools get a 400
    temperature: float = 1.0  # when the request gives none
    top_p: float = 0.95


class ModelRegistry:
    def __init__(self, models: list[ServedModel], residency: Residency) -> None:
        self._models = {canonical(m.name): m for m in models}
        self.residency = residency  # which in-process models are loaded

    def find(self, name: str) -> ServedModel | None:
        """A name as configured, else the family it belongs to, if that is served."""
        bare = canonical(name)
        served = self._models.get(bare)
        if served is None and (pattern := gemini_models.family(bare)) is not None:
            served = self._models.get(pattern)
        return served

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self._models.values())

    @property
    def names(self) -> list[str]:
        return [m.name for m in self]

    @property
    def engines(self) -> list[tuple[Engine | Embedder, Admission]]:
        """Each engine once, with its admission queue."""
        seen: dict[int, tuple[Engine | Embedder, Admission]] = {}
        for m in self:
            seen.setdefault(id(m.engine), (m.engine, m.admission))
        return list(seen.values())
