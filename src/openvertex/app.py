"""The FastAPI application: routes, error handlers, and the engine's lifetime."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from openvertex import __version__
from openvertex.api import chat, health, models, token
from openvertex.api.errors import install_error_handlers
from openvertex.api.limits import BodySizeLimit
from openvertex.api.request_ids import RequestIds
from openvertex.config import Settings
from openvertex.engines.base import Engine
from openvertex.engines.gguf_files import resolve_model_path
from openvertex.engines.llamacpp import LlamaCppEngine
from openvertex.media.cascade import MediaLimits, MediaReader
from openvertex.registry import ModelRegistry
from openvertex.store.sqlite import SQLiteStore

log = logging.getLogger("openvertex")


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


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The app; `clock` is injectable so tests can expire tokens without waiting."""
    engine = engine or build_engine(settings)
    store = SQLiteStore(settings.database)

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
    app.state.media = build_media_reader(settings) if settings.media else None
    app.state.clock = clock
    app.state.started = int(time.time())
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIds)  # added last: outermost, so every response gets an id
    for module in (chat, models, health, token):
        app.include_router(module.router)
    return app
