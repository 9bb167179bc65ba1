"""The events a generation answers with: one union, whatever the engine and the wire.

An engine yields the events of one candidate; the service interleaves the
candidates as `ChoiceEvent`s; each wire adapter folds them into its own JSON
reply or stream chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from openvertex.core.request import ToolCall

FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...] | None = None
    top: tuple[TokenLogprob, ...] = ()  # the most likely tokens at this step


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Answer text, with each token's log probability when they were asked for."""

    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class ThoughtDelta:
    """Thinking text, generated before the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ImageData:
    """An image the model drew."""

    mime_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int  # thoughts and answer together, as Gemini bills them
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


Event = TextDelta | ThoughtDelta | ImageData | ToolCall | Usage | Finish


@dataclass(frozen=True, slots=True)
class ChoiceEvent:
    """An event of candidate `index`, when several are generated together."""

    index: int
    event: Event


class UsageSum:
    """Usage over all candidates: the prompt is counted once, completions per candidate."""

    def __init__(self) -> None:
        self.prompt = self.completion = self.cached = self.reasoning = 0

    def add(self, usage: Usage) -> None:
        self.prompt = max(self.prompt, usage.prompt_tokens)
        self.cached = max(self.cached, usage.cached_tokens)
        self.completion += usage.completion_tokens
        self.reasoning += usage.reasoning_tokens
