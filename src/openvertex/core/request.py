"""The one internal request every engine serves, and the events it answers with.

An engine turns a `GenerationRequest` into a stream of `Event`s for one choice;
`core.choices` fans out `n` of them and `core.assemble` turns events into the
OpenAI wire shapes. Nothing here knows about HTTP or llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from openvertex.core.constraints import Constraint

if TYPE_CHECKING:
    from openvertex.core.tools import ToolUse

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One complete function call; `arguments` is a JSON object as a string."""

    index: int
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant's calls
    tool_call_id: str | None = None  # the call a tool message answers


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
class Thinking:
    """How long the model may think, and how its thoughts are shown.

    `budget`: None = the model's default, 0 = no thinking, -1 = the model decides
    (bounded by the context), N = at most N thinking tokens. The engine reads the
    budget; only the assembler reads how thoughts are shown.
    """

    budget: int | None = None
    include_thoughts: bool = False
    tag: str | None = None  # wrap shown thoughts in <tag>…</tag>


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    n: int = 1
    constraint: Constraint | None = None  # the answer (never the thoughts) must match it
    thinking: Thinking = field(default_factory=Thinking)
    tools: ToolUse | None = None  # None: no tools offered, or tool_choice "none"


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Answer text, with the per-token logprobs (OpenAI's shape) when asked for."""

    text: str
    logprobs: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class ThoughtDelta:
    """Thinking text, generated before the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int  # thoughts and answer together, as Gemini counts them
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


Event = TextDelta | ThoughtDelta | ToolCall | Usage | Finish


@dataclass(frozen=True, slots=True)
class ChoiceEvent:
    """An event of choice `index` when several choices are generated together."""

    index: int
    event: Event


def with_system_instruction(messages: tuple[Message, ...], instruction: str) -> tuple[Message, ...]:
    """Add `instruction` to the system turn (creating one), where models look for rules."""
    if not instruction:
        return messages
    if messages and messages[0].role == "system":
        first = messages[0]
        return (Message("system", f"{first.content}\n\n{instruction}"), *messages[1:])
    return (Message("system", instruction), *messages)
