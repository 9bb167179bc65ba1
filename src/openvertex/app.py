"""The FastAPI application: the parts built from settings, the routes of both wires, lifetimes."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from openvertex import __version__
from openvertex.api import health, token
from openvertex.api import metrics as metrics_route
from openvertex.api.context import AppContext
from openvertex.api.error_handlers import install_error_handlers
from openvertex.api.gemini import caches as gemini_caches
from openvertex.api.gemini import embeddings as gemini_embeddings
from openvertex.api.gemini import routes as gemini
from openvertex.api.hosts import HostCheck, served_hosts
from openvertex.api.lifecycle import RequestLifecycle
from openvertex.api.limits import BodySizeLimit
from openvertex.api.openai import chat, completions, embeddings, images, models
from openvertex.api.openai import docs as openai_docs
from openvertex.api.openapi import install as install_openapi
from openvertex.catalog import DEFAULT_EMBEDDING, source
from openvertex.config import ModelConfig, Settings
from openvertex.console import routes as console
from openvertex.core.request import DefaultSampling
from openvertex.engines.base import Embedder, Engine
from openvertex.engines.llamacpp.embedder import LlamaCppEmbedder
from openvertex.engines.llamacpp.engine import LlamaCppEngine
from openvertex.engines.llamacpp.residency import Residency
from openvertex.engines.llamacpp.runner import cores
from openvertex.engines.upstream.api import UpstreamApi
from openvertex.engines.upstream.auth import GoogleCredentials, Key
from openvertex.engines.upstream.engine import UpstreamEngine
from openvertex.engines.upstream.gemini import GeminiApi
from openvertex.engines.upstream.openai_compat import OpenAICompat
from openvertex.media.cascade import MediaLimits, MediaReader
from openvertex.record import RequestRecord
from openvertex.serving.admission import Admission
from openvertex.serving.draining import Drain
from openvertex.serving.quotas import Quota, Quotas
from openvertex.serving.registry import ModelRegistry, ServedModel
from openvertex.serving.service import GenerationService
from openvertex.serving.thought_signatures import ThoughtSignatures
from openvertex.store import open_store
from openvertex.store.base import Store, UsageRecord
from openvertex.store.quota_windows import RedisWindows
from openvertex.telemetry import Metrics, access_line

log = logging.getLogger("openvertex")
access_log = logging.getLogger("openvertex.access")


def build_engine(
    entry: ModelConfig, settings: Settings, residency: Residency
) -> tuple[Engine | Embedder, DefaultSampling]:
    """An upstream pool for an entry with `upstreams`, else llama.cpp in a runner process;
    with the sampling its model's authors recommend."""
    threads = entry.threads or settings.threads  # unset: the cores follow the work
    if entry.upstreams:
        return build_upstream(entry), DefaultSampling()
    if entry.embedding:
        model = source(entry.model, settings.data_dir, default=DEFAULT_EMBEDDING)
        embedder = LlamaCppEmbedder(
            model.path,
            model.name,
            footprint=model.footprint,
            residency=residency,
            parallel=entry.parallel or settings.parallel,
            context=entry.context or 2048,
            threads=threads,
        )
        return embedder, DefaultSampling()
    model = source(entry.model, settings.data_dir)
    if model.missing:  # a chat model is asked for by name: refuse to start without it
        raise FileNotFoundError(model.missing)
    engine = LlamaCppEngine(
        model.path,
        model.name,
        file=model.file,
        footprint=model.footprint,
        residency=residency,
        parallel=entry.parallel or settings.parallel,
        context_per_slot=entry.context or settings.context,
        threads=threads,
        sampling=model.sampling,
        speculative=entry.speculative or settings.speculative,
        preload=settings.preload,
    )
    return engine, model.sampling


def build_upstream(entry: ModelConfig) -> UpstreamEngine:
    model = entry.upstream_model or entry.names[0].removeprefix("google/")
    key = os.environ.get(entry.api_key_env) if entry.api_key_env else None
    api: UpstreamApi
    auth: httpx.Auth | None
    if entry.dialect == "gemini":
        api = GeminiApi(model, draws=entry.image_generation)
        auth = Key(key, header="x-goog-api-key") if key else GoogleCredentials()
    else:
        api = OpenAICompat(
            model,
            entry.dialect,
            prompted_tools=entry.tools == "prompted",
            llguidance=entry.llguidance,
            vision=entry.vision,
            draws=entry.image_generation,
        )
        auth = Key(key) if key else None
    return UpstreamEngine(
        api,
        entry.upstreams,
        auth=auth,
        limit=entry.max_concurrency,
        timeout_s=entry.timeout_seconds,
        context=entry.context,
    )


def build_registry(settings: Settings, metrics: Metrics, drain: Drain) -> ModelRegistry:
    """One engine per `[[models]]` entry (one in all by default), each with its own slots."""
    served = []
    residency = Residency(settings.memory_budget_bytes, settings.keep_alive_seconds, cores())
    for entry in settings.engines:
        engine, sampling = build_engine(entry, settings, residency)
        slots = engine.capabilities.slots
        admission = Admission(slots, settings.queue, metrics, drain)
        temperature = _first(settings.default_temperature, sampling.temperature, 1.0)
        top_p = _first(settings.default_top_p, sampling.top_p, 0.95)
        for name in [*entry.names, *(f"google/{family}" for family in entry.families)]:
            tools = name not in settings.models_without_tools
            budgets = settings.effort_budgets_for(name)
            served.append(ServedModel(name, engine, admission, budgets, tools, temperature, top_p))
    return ModelRegistry(served, residency)


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)


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

    window_s = settings.quota_window_seconds
    windows = None
    if settings.redis_url:
        on_error = metrics.quota_store_errors.inc
        windows = RedisWindows(settings.redis_url, window_s, on_error=on_error)
    return Quotas(quota_for, window_s=window_s, metrics=metrics, windows=windows)


def create_app(settings: Settings, clock: Callable[[], float] = time.time) -> FastAPI:
    """The app; `clock` is injectable so tests can expire tokens without waiting."""
    store = open_store(settings.database)
    metrics = Metrics(detail=settings.metrics_detail)
    drain = Drain(settings.grace_seconds)
    quotas = build_quotas(settings, store, metrics)
    registry = build_registry(settings, metrics, drain)
    media = build_media_reader(settings) if settings.media else None
    service = GenerationService(registry, quotas, drain, media)
    ledger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")  # in order, off-loop

    def write_usage(row: UsageRecord) -> None:
        try:
            store.record_usage(row)
        except Exception:
            log.exception("could not write the usage ledger")

    def finish(record: RequestRecord) -> None:
        """A request is over: log it, count it, and bill its project."""
        access_log.info(access_line(record))
        metrics.observe(record)
        if record.project is not None:
            quotas.charge(record.project, record.prompt_tokens + record.completion_tokens)
            ledger.submit(write_usage, record.to_usage())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for engine, _ in registry.engines:
            await engine.start()
        for engine, _ in registry.engines:
            names = ", ".join(m.name for m in registry if m.engine is engine)
            caps = engine.capabilities
            log.info("%s on %s serves %s", caps.weights, caps.backend, names)
        sweeping = asyncio.create_task(registry.residency.run())
        preloading = asyncio.create_task(registry.residency.preload())
        yield
        preloading.cancel()
        sweeping.cancel()
        for engine, _ in registry.engines:
            await engine.close()
        await quotas.close()
        ledger.shutdown(wait=True)  # every row of a finished request is written
        store.close()

    app = FastAPI(title="openvertex", version=__version__, lifespan=lifespan)
    app.state.context = AppContext(
        settings=settings,
        service=service,
        store=store,
        metrics=metrics,
        signatures=ThoughtSignatures(store.server_secret("thought_signatures")),
        clock=clock,
        started=int(time.time()),
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if not settings.auth:  # with auth on, a rebinding page has no credential to send
        app.add_middleware(HostCheck, allowed=served_hosts(settings))
    # Added last: outermost, so every response gets an id and every request is told.
    app.add_middleware(RequestLifecycle, finish=finish)
    routers = (chat, completions, embeddings, images, models, gemini, gemini_embeddings,
               gemini_caches)  # fmt: skip
    for module in (*routers, health, token, metrics_route, console):
        app.include_router(module.router)
    app.include_router(console.api)
    app.mount("/console/static", StaticFiles(directory=console.STATIC), name="console")
    install_openapi(app, [openai_docs.schemas, token.schemas], openai_docs.REQUESTS)
    return app
