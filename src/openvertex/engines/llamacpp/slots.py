"""Which llama.cpp slot a generation runs in: a cached prompt serves only the project that
filled it, and a conversation's next turn goes back to the slot that holds its history.

llama.cpp reuses the longest prefix a slot already holds, and left to pick slots itself
it hands the slot with the most similar prompt to whoever asks; one project could then
learn from `cached_tokens`, or from the time to its first token, whether it guessed
another project's prompt. Here each generation holds a slot of its own for its whole
reply (thinking phases included): the slot of its own scope whose cached text shares the
longest beginning with the new prompt (the previous turn of the same conversation, or
a long system prompt), when that is most of the prompt or a long run; else the least
recently used slot, so that a new conversation does not push out another's history. A
slot that last served another scope starts cold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

_LONG = 1024  # characters in common that are worth a slot, however long the prompt


class Slots:
    def __init__(self, count: int) -> None:
        self._free = list(range(count))  # least recently used first
        self._scope: dict[int, str] = {}
        self._text: dict[int, str] = {}  # what each slot's cache holds: prompt and reply
        self._available = asyncio.Semaphore(count)

    @contextlib.asynccontextmanager
    async def hold(self, scope: str, prompt: str) -> AsyncIterator[int]:
        """A free slot, the one of `scope` whose cache holds most of `prompt` if any, for
        as long as needed."""
        async with self._available:
            slot = self._choose(scope, prompt)
            self._free.remove(slot)
            try:
                yield slot
            finally:
                self._free.append(slot)

    def _choose(self, scope: str, prompt: str) -> int:
        best, most = self._free[0], 0  # least recently used first
        worth = max(1, min(len(prompt) // 2, _LONG))
        for slot in self._free:  # on a tie the one used last wins: a repeat runs where it ran
            if self._scope.get(slot) == scope:
                common = shared(self._text.get(slot, ""), prompt)
                if common >= max(most, worth):
                    best, most = slot, common
        return best

    def warm(self, slot: int, scope: str) -> bool:
        """Whether `slot`'s cached prompt may serve `scope`; from now on the slot is its."""
        same = self._scope.get(slot) == scope
        self._scope[slot] = scope
        return same

    def holds(self, slot: int, text: str) -> None:
        """What `slot`'s cache holds now, as text: the last prompt and what it generated."""
        self._text[slot] = text


def shared(a: str, b: str) -> int:
    """How many characters `a` and `b` begin with in common (each comparison done in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
