"""What a request asks of thinking: `reasoning_effort` or Google's `thinking_config`.

Vertex maps OpenAI's effort levels to Gemini thinking budgets; the mapping is a
setting (per model), these are Vertex's own numbers.
"""

from __future__ import annotations

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


def resolve_thinking(
    *,
    effort: str | None,
    budget: int | None,
    config_given: bool,
    include_thoughts: bool,
    tag: str | None,
    effort_budgets: Mapping[str, int],
) -> Thinking:
    """One `Thinking` from either an effort level or an explicit budget, never both."""
    if effort is not None and config_given:
        raise InvalidArgument(
            "reasoning_effort and extra_body.google.thinking_config cannot be used together; "
            "give one of them.",
            param="reasoning_effort",
        )
    if effort is not None:
        if effort not in effort_budgets:
            raise InvalidArgument(
                f"reasoning_effort {effort!r} is not supported; use one of: "
                + ", ".join(effort_budgets),
                param="reasoning_effort",
            )
        budget = effort_budgets[effort]
    return Thinking(budget=budget, include_thoughts=include_thoughts, tag=tag)
