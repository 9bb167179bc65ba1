"""The one internal request every engine serves, and the events it answers with.

An engine turns a `GenerationRequest` into a stream of `Event`s for one choice;
`core.choices` fans out `n` of them and `core.assemble` turns events into the
OpenAI wire shapes. Nothing here knows about HTTP or llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from openvertex.core.constraints import Constraint

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    n: int = 1
    constraint: Constraint | None = None  # the answer must match this grammar


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Answer text, with the per-token logprobs (OpenAI's shape) when asked for."""

    text: str
    logprobs: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


Event = TextDelta | Usage | Finish


@dataclass(frozen=True, slots=True)
class ChoiceEvent:
    """An event of choice `index` when several choices are generated together."""

    index: int
    event: Event
