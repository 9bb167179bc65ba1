"""Stopping media work whose request is gone (client left, shutdown deadline passed).

Cancelling an `await` on a worker thread does not stop the thread: OCR and Whisper would
burn the CPU to the end for nobody. So each request's media work runs under a `Cancel`,
and the slow loops check it between units of work: a decoded audio frame, one ONNX run
of the OCR models, one CTranslate2 call of Whisper (encode or generate of one 30 s
window). Each unit is well under a second on a small CPU, so work stops that soon.

A killable worker process would stop work at once, but it would hold its own copy of
both models, pay their load again after every kill, and ship every decoded sample over
a pipe; checks between units are simpler and stop the CPU nearly as soon.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_current = threading.local()


class Cancelled(Exception):
    """Raised inside media work once its request no longer wants the result."""


class Cancel:
    """One request's stop signal, shared by every thread working for it."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` on this thread with `checkpoint()` answering to this signal."""
        if self.cancelled:
            raise Cancelled
        outer = getattr(_current, "cancel", None)
        _current.cancel = self
        try:
            return work()
        finally:
            _current.cancel = outer


def checkpoint() -> None:
    """Raise Cancelled if the work running on this thread is no longer wanted."""
    cancel: Cancel | None = getattr(_current, "cancel", None)
    if cancel is not None and cancel.cancelled:
        raise Cancelled


def checked(call: Callable[P, T]) -> Callable[P, T]:
    """`call`, preceded by a checkpoint each time: wraps a model's unit of work."""

    @functools.wraps(call)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        checkpoint()
        return call(*args, **kwargs)

    return run


class CheckedProxy:
    """An object whose `methods` each pass a checkpoint first; all else goes straight through.

    For a model object owned by a library (CTranslate2's Whisper), whose calls we cannot
    wrap one by one from outside.
    """

    def __init__(self, inner: Any, methods: frozenset[str]) -> None:
        self._inner = inner
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        return checked(value) if name in self._methods else value
