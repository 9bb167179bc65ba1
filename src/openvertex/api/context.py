"""What every route may use, typed: one object on the app, one dependency to reach it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from openvertex.config import Settings
from openvertex.serving.service import GenerationService
from openvertex.serving.thought_signatures import ThoughtSignatures
from openvertex.store.base import Store
from openvertex.telemetry import Metrics


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    service: GenerationService
    store: Store
    metrics: Metrics
    signatures: ThoughtSignatures
    clock: Callable[[], float]  # injectable so tests can expire tokens without waiting
    started: int  # when the server started, Unix seconds


def app_context(request: Request) -> AppContext:
    return request.app.state.context


Context = Annotated[AppContext, Depends(app_context)]
