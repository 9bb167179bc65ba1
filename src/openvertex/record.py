"""What one request did, filled in as it goes and read once when it ends.

The lifecycle middleware makes one per request; the chat route says who called
and which model; the media cascade bills the images and audio it read; the metering
tap adds tokens and timings. When the response is over, the same record feeds the
access log, the metrics, the ledger and quotas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from openvertex.store.base import UsageRecord

CLIENT_CLOSED = 499  # nginx's status for "the client went away before the answer"


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    at: float = field(default_factory=time.time)
    route: str = "unmatched"
    status: int = 500  # what the client sees if nothing answers
    project: str | None = None  # set once a chat request is authenticated: it is ledgered
    principal: str | None = None
    model: str | None = None
    # The prompt as billed: media_tokens, plus the tokens the model read (the reply's usage).
    prompt_tokens: int = 0
    media_tokens: int = 0  # images and audio read for a text model, at Gemini's rates
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    first_token: float | None = None  # perf_counter of the first text, thought or call
    ended: float | None = None
    stream_error: int | None = None  # an error after a 200 was sent (SSE error event)
    _on_end: list[Callable[[], None]] = field(default_factory=list)

    @property
    def outcome(self) -> int:
        """The status a client really got: a stream cut by an error counts as that error."""
        return self.stream_error or self.status

    @property
    def seconds(self) -> float:
        return (self.ended or time.perf_counter()) - self.started

    def to_usage(self) -> UsageRecord:
        """The ledger's row for this request (it must have a project)."""
        assert self.project is not None
        return UsageRecord(
            at=self.at,
            request_id=self.request_id,
            project=self.project,
            principal=self.principal or "",
            model=self.model or "",
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            reasoning_tokens=self.reasoning_tokens,
            latency_ms=round(self.seconds * 1000, 1),
            status=self.outcome,
            ttft_ms=None
            if self.first_token is None
            else round((self.first_token - self.started) * 1000, 1),
        )

    def bill_media(self, tokens: int) -> None:
        """Count media read for this request: billed even if the reply never comes."""
        self.media_tokens += tokens
        self.prompt_tokens += tokens

    def add(self, part: RequestRecord) -> None:
        """The tokens and outcome of a part of this request (one of several prompts)."""
        self.prompt_tokens += part.prompt_tokens
        self.media_tokens += part.media_tokens
        self.completion_tokens += part.completion_tokens
        self.reasoning_tokens += part.reasoning_tokens
        self.first_token = self.first_token or part.first_token
        self.stream_error = self.stream_error or part.stream_error

    def on_end(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the response is over (releases an engine slot)."""
        self._on_end.append(callback)

    def end(self) -> None:
        self.ended = time.perf_counter()
        while self._on_end:
            self._on_end.pop()()
