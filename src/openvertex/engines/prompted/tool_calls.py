"""Read function calls out of the generated text, as it streams.

Text before the first `<tool_call>` (or a call written as a plain JSON object,
`{"name": ...}`, or as one in a ```json fence naming an offered function, as
Qwen2.5-Coder sometimes writes) stays answer text. Each call is held back
until its closing marker, then becomes one `ToolCall` event: a call cut short
(by `max_tokens`) is never returned, and the reply finishes with `length`.
The grammar guarantees every closed call parses and validates. A call that
repeats an earlier one of the same reply exactly is the model looping, not a
second call, and is dropped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing

from openvertex.core.events import Event, Finish, TextDelta, Usage
from openvertex.core.request import ToolCall
from openvertex.engines.prompted.tool_format import CALL_CLOSE, CALL_OPEN, INLINE_OPEN


def new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


FENCE_OPEN, FENCE_CLOSE = "```json\n", "```"


async def read_tool_calls(
    events: AsyncGenerator[Event, None], names: frozenset[str] = frozenset()
) -> AsyncGenerator[Event, None]:
    """The same events, with the text of calls turned into `ToolCall`s; a fenced JSON
    object is a call only when it names one of `names`. Closing it closes `events`."""
    reader = _CallReader(names)
    async with aclosing(events):
        async for event in events:
            if isinstance(event, TextDelta):
                for out in reader.feed(event):
                    yield out
                continue
            if isinstance(event, Usage | Finish) and (text := reader.flush()):
                yield TextDelta(text)
            if isinstance(event, Finish) and reader.calls and event.reason == "stop":
                event = Finish("tool_calls")
            yield event


class _CallReader:
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.buffer = ""
        self.in_call = False
        self.bare = False  # calls written as bare JSON objects, from the reply's first byte
        self.started = False  # anything seen yet
        self.calls = 0
        self.seen: set[tuple[str, str]] = set()

    def flush(self) -> str:
        """Held-back text that turned out not to start a call."""
        text = "" if self.in_call or self.bare or self.calls else self.buffer
        self.buffer = "" if text else self.buffer
        return text

    def feed(self, delta: TextDelta) -> list[Event]:
        self.buffer += delta.text
        if not self.started and self.buffer:
            self.started, self.bare = True, self.buffer.startswith("{")
        out: list[Event] = []
        while True:
            if self.bare:
                return out + self._bare_calls()
            if self.in_call:
                found = _complete_call(self.buffer)
                if found is None:
                    return out
                (name, arguments), end = found
                if call := self._call(name, arguments):
                    out.append(call)
                self.buffer = self.buffer[end + len(CALL_CLOSE) :]
                self.in_call = False
                continue
            tagged, inline = self.buffer.find(CALL_OPEN), self.buffer.find(INLINE_OPEN)
            fenced = self.buffer.find(FENCE_OPEN) if self.names else -1
            start = min(i for i in (tagged, inline, fenced, len(self.buffer)) if i >= 0)
            if start == len(self.buffer):  # no call yet: keep what may be a marker's start
                start -= _marker_prefix_length(self.buffer)
            text, self.buffer = self.buffer[:start], self.buffer[start:]
            if text and not self.calls:  # after a call only separators come
                whole = text == delta.text
                out.append(TextDelta(text, delta.logprobs if whole else None))
            if start == tagged:
                self.buffer, self.in_call = self.buffer[len(CALL_OPEN) :], True
            elif start == inline:
                self.bare = True  # the rest is one call as a JSON object
            elif start == fenced:
                if (fence := self._fenced_call()) is None:
                    return out  # the fence is not closed yet
                out.extend(fence)
            else:
                return out

    def _fenced_call(self) -> list[Event] | None:
        """The fence the buffer starts with, once closed: a call, or text as it was."""
        end = self.buffer.find(FENCE_CLOSE, len(FENCE_OPEN))
        if end < 0:
            return None
        end += len(FENCE_CLOSE)
        block, self.buffer = self.buffer[:end], self.buffer[end:]
        try:
            call = json.loads(block[len(FENCE_OPEN) : -len(FENCE_CLOSE)])
        except json.JSONDecodeError:
            call = None
        if (
            isinstance(call, dict)
            and call.get("name") in self.names
            and isinstance(call.get("arguments"), dict)
            and (made := self._call(*_name_and_arguments(call)))
        ):
            return [made]
        return [] if self.calls else [TextDelta(block)]

    def _bare_calls(self) -> list[Event]:
        """Complete `{"name": ..., "arguments": ...}` objects, one per line."""
        out: list[Event] = []
        while self.buffer.strip():
            try:
                call, end = json.JSONDecoder().raw_decode(self.buffer.lstrip())
            except json.JSONDecodeError:
                return out  # not complete yet
            self.buffer = self.buffer.lstrip()[end:]
            if made := self._call(*_name_and_arguments(call)):
                out.append(made)
        return out

    def _call(self, name: str, arguments: str) -> ToolCall | None:
        if (name, arguments) in self.seen:
            return None
        self.seen.add((name, arguments))
        self.calls += 1
        return ToolCall(self.calls - 1, new_call_id(), name, arguments)


def _complete_call(text: str) -> tuple[tuple[str, str], int] | None:
    """(name, arguments) of the call `text` starts with, and where its close marker is.

    The close marker may also appear inside a string argument: the right one is the
    first after which the JSON before it parses.
    """
    end = text.find(CALL_CLOSE)
    while end >= 0:
        try:
            call = json.loads(text[:end])
        except json.JSONDecodeError:
            end = text.find(CALL_CLOSE, end + 1)
            continue
        return _name_and_arguments(call), end
    return None


def _marker_prefix_length(text: str) -> int:
    """How much of the end of `text` could be the start of a call marker."""
    for size in range(min(len(text), len(CALL_OPEN) - 1), 0, -1):
        if any(m.startswith(text[-size:]) for m in (CALL_OPEN, INLINE_OPEN, FENCE_OPEN)):
            return size
    return 0


def _name_and_arguments(call: dict) -> tuple[str, str]:
    """A parsed call as the API returns it: the arguments object as a JSON string."""
    return call["name"], json.dumps(call["arguments"], ensure_ascii=False)
