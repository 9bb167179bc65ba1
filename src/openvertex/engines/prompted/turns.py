"""The conversation as chat templates read it: one flat turn per message.

A tool turn answers one call; a message carrying several results (as Gemini
sends them) becomes one turn per result, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from openvertex.core.request import Message, ToolCall
from openvertex.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # system, user, assistant or tool
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant's calls
    tool_call_id: str | None = None  # the call a tool turn answers


def turns_of(messages: tuple[Message, ...]) -> tuple[Turn, ...]:
    out: list[Turn] = []
    for message in messages:
        if message.media:  # the service reads media into text for a model that lacks them
            raise InvalidArgument("This model reads text only.", param=message.media[0].where)
        if message.role == "tool":
            out += [Turn("tool", r.content, r.name, (), r.call_id) for r in message.tool_results]
        else:
            out.append(Turn(message.role, message.text, message.name, message.tool_calls))
    return tuple(out)


def with_system_instruction(turns: tuple[Turn, ...], instruction: str) -> tuple[Turn, ...]:
    """Add `instruction` to the system turn (creating one), where models look for rules."""
    if not instruction:
        return turns
    if turns and turns[0].role == "system":
        first = turns[0]
        return (Turn("system", f"{first.content}\n\n{instruction}"), *turns[1:])
    return (Turn("system", instruction), *turns)
