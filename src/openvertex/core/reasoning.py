"""Thinking budgets from effort levels: OpenAI's `reasoning_effort`, Gemini's `thinkingLevel`.

Vertex maps effort levels to Gemini thinking budgets; the mapping is a setting
(per model), these are Vertex's own numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from openvertex.core.request import Thinking
from openvertex.errors import InvalidArgument

DEFAULT_EFFORT_BUDGETS: dict[str, int] = {
    "none": 0,
    "minimal": 1024,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
}

DYNAMIC = -1  # thinking_budget -1: the model decides, bounded by the context


def with_budget(thinking: Thinking, budgets: Mapping[str, int]) -> Thinking:
    """An effort level asked for, as the model's thinking budget for it."""
    if thinking.level is None:
        return thinking
    budget = effort_budget(thinking.level, budgets, param=thinking.where)
    return dataclasses.replace(thinking, budget=budget, level=None)


def effort_budget(level: str, budgets: Mapping[str, int], *, param: str) -> int:
    """The thinking budget of an effort level (any case), or a 400 listing the levels."""
    try:
        return budgets[level.lower()]
    except KeyError:
        raise InvalidArgument(
            f"{param} {level!r} is not supported; use one of: " + ", ".join(budgets),
            param=param,
        ) from None
