"""What the upstream engine needs of a server's API: what to send where, how to read replies.

The pool, retries, deadlines and errors are the engine's, the same for every API;
an API only knows its own wire (OpenAI's chat completions, Gemini's generateContent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from openvertex.core.events import Event
from openvertex.core.request import GenerationRequest
from openvertex.engines.base import Token
from openvertex.engines.upstream.pool import Replica

# POST a body to the URL a replica gives, on the first replica that answers.
Post = Callable[[Callable[[Replica], str], dict[str, Any]], Awaitable[dict[str, Any]]]


class Reader(Protocol):
    def chunk(self, chunk: dict[str, Any]) -> list[Event]: ...
    def whole(self, reply: dict[str, Any]) -> list[Event]: ...
    def end(self) -> list[Event]: ...


class UpstreamApi(Protocol):
    model: str
    modalities: tuple[str, ...]  # what the upstream model takes itself
    output_modalities: tuple[str, ...]  # what it answers with: ("text", "image") if it draws
    prompted_tools: bool  # calls come back as text, for openvertex to read
    probe_path: str  # a cheap GET under a replica's URL, for health checks

    @property
    def details(self) -> dict[str, str]: ...

    @property
    def compiles(self) -> bool:
        """Whether building a body can refuse a request (a grammar openvertex compiles)."""
        ...

    def body(self, request: GenerationRequest) -> dict[str, Any]: ...
    def url(self, replica: Replica, stream: bool) -> str: ...
    def reader(self) -> Reader: ...
    async def draw(self, request: GenerationRequest, post: Post) -> list[Event]:
        """The events of one drawing (`request.image` is set)."""
        ...

    async def count_tokens(self, request: GenerationRequest, post: Post) -> int: ...
    async def tokenize(self, text: str, post: Post) -> list[Token]: ...
