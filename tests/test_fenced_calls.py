"""A call written in a ```json fence (as Qwen2.5-Coder-1.5B does in `auto` mode) is a call
when it names an offered function, and text otherwise; fed the way a stream arrives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from openvertex.core.events import Event, Finish, TextDelta
from openvertex.core.request import ToolCall
from openvertex.engines.prompted.tool_calls import read_tool_calls

QWEN_REPLY = (
    "To compute the tip, you can use the `calculate_tip` function. Here's how:\n\n"
    '```json\n{\n  "name": "calculate_tip",\n  "arguments": {\n    "bill_amount": 85,\n'
    '    "percent": 20\n  }\n}\n```\n\nThis will return the tip amount.'
)


async def streamed(text: str, size: int = 7) -> AsyncIterator[Event]:
    for i in range(0, len(text), size):
        yield TextDelta(text[i : i + size])
    yield Finish("stop")


async def read(text: str, names: frozenset[str]) -> list[Event]:
    return [event async for event in read_tool_calls(streamed(text), names)]


async def test_a_fenced_call_to_an_offered_function_is_a_call() -> None:
    events = await read(QWEN_REPLY, frozenset({"calculate_tip", "get_weather"}))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    [call] = [e for e in events if isinstance(e, ToolCall)]
    assert text == QWEN_REPLY[: QWEN_REPLY.index("```")]  # what came before; not the fence
    assert call.name == "calculate_tip"
    assert json.loads(call.arguments) == {"bill_amount": 85, "percent": 20}
    assert events[-1] == Finish("tool_calls")


async def test_a_fence_naming_no_offered_function_stays_text() -> None:
    events = await read(QWEN_REPLY, frozenset({"get_weather"}))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == QWEN_REPLY
    assert not [e for e in events if isinstance(e, ToolCall)]
    assert events[-1] == Finish("stop")


async def test_an_unclosed_fence_is_given_back_as_text() -> None:
    cut = QWEN_REPLY[: QWEN_REPLY.index("}\n}")]
    events = await read(cut, frozenset({"calculate_tip"}))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == cut
