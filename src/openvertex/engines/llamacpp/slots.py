"""Which llama.cpp slot a generation runs in: a cached prompt serves only the project that
filled it.

llama.cpp reuses the longest prefix a slot already holds, and left to pick slots itself
it hands the slot with the most similar prompt to whoever asks; one project could then
learn from `cached_tokens`, or from the time to its first token, whether it guessed
another project's prompt. Here each generation holds a slot of its own for its whole
reply (thinking phases included), preferring one its own scope used last; a slot that
last served another scope starts cold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Slots:
    def __init__(self, count: int) -> None:
        self._free = list(range(count))  # least recently used first
        self._scope: dict[int, str] = {}
        self._available = asyncio.Semaphore(count)

    @contextlib.asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[int]:
        """A free slot, the one `scope` used most recently if any, for as long as needed."""
        async with self._available:
            own = [slot for slot in self._free if self._scope.get(slot) == scope]
            slot = own[-1] if own else self._free[0]
            self._free.remove(slot)
            try:
                yield slot
            finally:
                self._free.append(slot)

    def warm(self, slot: int, scope: str) -> bool:
        """Whether `slot`'s cached prompt may serve `scope`; from now on the slot is its."""
        same = self._scope.get(slot) == scope
        self._scope[slot] = scope
        return same
