"""The FastAPI application: routes, error handlers, and the engine's lifetime."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from openvertex import __version__
from openvertex.api import chat, health, models, token
from openvertex.api import metrics as metrics_route
from openvertex.api.errors import install_error_handlers
from openvertex.api.lifecycle import RequestLifecycle
from openvertex.api.limits import BodySizeLimit
from openvertex.api.openapi import install as install_openapi
from openvertex.config import Settings
from openvertex.engines.base import Engine
from openvertex.engines.gguf_files import resolve_model_path
from openvertex.engines.llamacpp import LlamaCppEngine
from openvertex.media.cascade import MediaLimits, MediaReader
from openvertex.registry import ModelRegistry
from openvertex.serving.admission import Admission
from openvertex.serving.draining import Drain
from openvertex.serving.quotas import Quota, Quotas
from openvertex.serving.record import RequestRecord
from openvertex.store.base import Store
from openvertex.store.sqlite import SQLiteStore
from openvertex.telemetry import Metrics, access_line

log = logging.getLogger("openvertex")
access_log = logging.getLogger("openvertex.access")


def build_engine(settings: Settings) -> Engine:
    return LlamaCppEngine(
        resolve_model_path(settings.model, settings.data_dir),
        parallel=settings.parallel,
        context_per_slot=settings.context,
        threads=settings.threads,
    )


def build_media_reader(settings: Settings) -> MediaReader:
    limits = MediaLimits(
        max_audio_seconds=settings.max_audio_seconds,
        max_parts=settings.max_media_parts,
        url_allowlist=tuple(settings.image_url_allowlist),
    )
    return MediaReader(limits, whisper_model=settings.whisper_model)


def build_quotas(settings: Settings, store: Store, metrics: Metrics) -> Quotas:
    def quota_for(project: str) -> Quota:
        own = store.get_quota(project)  # read each time: `set-quota` applies at once
        return Quota(
            rpm=settings.default_rpm if own is None or own.rpm is None else own.rpm,
            tpm=settings.default_tpm if own is None or own.tpm is None else own.tpm,
        )

    return Quotas(quota_for, window_s=settings.quota_window_seconds, metrics=metrics)


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The app; `clock` is injectable so tests can expire tokens without waiting."""
    engine = engine or build_engine(settings)
    store = SQLiteStore(settings.database)
    metrics = Metrics()
    drain = Drain(settings.grace_seconds)
    quotas = build_quotas(settings, store, metrics)

    def finish(record: RequestRecord) -> None:
        """A request is over: log it, count it, and bill its project."""
        access_log.info(access_line(record))
        metrics.observe(record)
        if record.project is not None:
            quotas.charge(record.project, record.prompt_tokens + record.completion_tokens)
            try:
                store.record_usage(record.to_usage())
            except Exception:
                log.exception("could not write the usage ledger")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        await engine.start()
        info = engine.info
        log.info(
            "loaded %s on %s in %.1f s", info.model, info.backend, time.perf_counter() - started
        )
        yield
        await engine.close()
        store.close()

    app = FastAPI(title="openvertex", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.registry = ModelRegistry(settings.served_models, engine)
    app.state.store = store
    app.state.metrics = metrics
    app.state.drain = drain
    app.state.quotas = quotas
    app.state.admission = Admission(settings.parallel, settings.queue, metrics, drain)
    app.state.media = build_media_reader(settings) if settings.media else None
    app.state.clock = clock
    app.state.started = int(time.time())
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last: outermost, so every response gets an id and every request is told.
    app.add_middleware(RequestLifecycle, finish=finish)
    for module in (chat, models, health, token, metrics_route):
        app.include_router(module.router)
    install_openapi(app)
    return app
