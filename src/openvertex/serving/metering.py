"""A tap on a reply's events: tokens, time to first token and how it ended.

It sits on the same event stream the assembler reads, so JSON replies and
streams are metered by one piece of code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

from openvertex.core.request import (
    ChoiceEvent,
    Finish,
    TextDelta,
    ThoughtDelta,
    ToolCall,
    Usage,
)
from openvertex.errors import OpenVertexError
from openvertex.serving.record import CLIENT_CLOSED, RequestRecord

_OUTPUT = (TextDelta, ThoughtDelta, ToolCall)


async def metered(
    events: AsyncIterator[ChoiceEvent], record: RequestRecord
) -> AsyncIterator[ChoiceEvent]:
    prompt = 0
    begun: set[int] = set()
    finished: set[int] = set()
    async with aclosing(events):
        try:
            async for item in events:
                event = item.event
                begun.add(item.index)
                if isinstance(event, Finish):
                    finished.add(item.index)
                elif isinstance(event, _OUTPUT) and record.first_token is None:
                    record.first_token = time.perf_counter()
                elif isinstance(event, Usage):  # the prompt is shared by all choices
                    prompt = max(prompt, event.prompt_tokens)
                    record.prompt_tokens = prompt
                    record.completion_tokens += event.completion_tokens
                    record.reasoning_tokens += event.reasoning_tokens
                yield item
        except OpenVertexError as exc:
            record.stream_error = exc.code
            raise
        except (asyncio.CancelledError, GeneratorExit):
            if begun - finished:  # closed mid-reply, not just after the last Finish
                record.stream_error = CLIENT_CLOSED
            raise
