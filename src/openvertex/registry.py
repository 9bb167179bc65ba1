"""Which model names this server answers to, and the engine behind each."""

from __future__ import annotations

from collections.abc import Iterable

from openvertex.engines.base import Engine
from openvertex.errors import NotFound


def _canonical(name: str) -> str:
    return name.removeprefix("google/")


class ModelRegistry:
    def __init__(self, names: Iterable[str], engine: Engine) -> None:
        self.ids = list(names)
        self._engines = {_canonical(name): engine for name in self.ids}

    def resolve(self, name: str) -> Engine:
        """The engine serving `name`, with or without the `google/` prefix."""
        try:
            return self._engines[_canonical(name)]
        except KeyError:
            raise NotFound(
                f"Model {name!r} is not served here. Served models: {', '.join(self.ids)}.",
                param="model",
            ) from None

    def find_id(self, name: str) -> str:
        self.resolve(name)
        return next(i for i in self.ids if _canonical(i) == _canonical(name))
