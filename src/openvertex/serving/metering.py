"""A tap on a reply's events: tokens, time to first token and how it ended.

It sits on the same event stream the assembler reads, so JSON replies and
streams are metered by one piece of code. A choice cut short (client gone,
shutdown deadline) never gets its Usage event; its streamed pieces are counted
instead, so a reply cannot dodge the ledger or a token quota by ending early.
Media read for the model (`record.media_tokens`) stay on the record's prompt tokens:
billed, though the reply's own usage shows only the text the model read.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import aclosing

from openvertex.core.events import (
    ChoiceEvent,
    Finish,
    TextDelta,
    ThoughtDelta,
    Usage,
    UsageSum,
)
from openvertex.core.request import ToolCall
from openvertex.errors import OpenVertexError
from openvertex.record import CLIENT_CLOSED, RequestRecord

_OUTPUT = (TextDelta, ThoughtDelta, ToolCall)


async def metered(
    events: AsyncGenerator[ChoiceEvent, None], record: RequestRecord, choices: int
) -> AsyncGenerator[ChoiceEvent, None]:
    usage = UsageSum()
    pieces: Counter[int] = Counter()  # output events per choice
    reported: set[int] = set()  # choices that sent their Usage
    finished: set[int] = set()
    try:
        async with aclosing(events):
            async for item in events:
                event = item.event
                if isinstance(event, _OUTPUT):
                    if record.first_token is None:
                        record.first_token = time.perf_counter()
                    pieces[item.index] += 1
                elif isinstance(event, Usage):
                    usage.add(event)
                    reported.add(item.index)
                elif isinstance(event, Finish):
                    finished.add(item.index)
                yield item
    except OpenVertexError as exc:
        record.stream_error = exc.code
        raise
    except (asyncio.CancelledError, GeneratorExit):
        if len(finished) < choices:  # closed mid-reply, not just after the last Finish
            record.stream_error = CLIENT_CLOSED
        raise
    except Exception:
        record.stream_error = 500
        raise
    finally:
        cut_short = sum(count for i, count in pieces.items() if i not in reported)
        record.prompt_tokens = record.media_tokens + usage.prompt
        record.completion_tokens = usage.completion + cut_short
        record.reasoning_tokens = usage.reasoning
