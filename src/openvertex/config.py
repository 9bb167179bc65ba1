"""Settings: command-line flags, then `OPENVERTEX_*` environment, then a TOML file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from openvertex.catalog import DEFAULT_EMBEDDING, chat_tiers
from openvertex.core.reasoning import DEFAULT_EFFORT_BUDGETS
from openvertex.media.url_guard import parse_allowlist
from openvertex.serving.gemini_models import FAMILIES

# The names a Vertex user sends, by tier; each also answers without its `google/` prefix.
LITE_NAMES = [
    "google/gemini-2.0-flash-lite-001",
    "google/gemini-2.0-flash-lite",
    "google/gemini-2.5-flash-lite",
]
FLASH_NAMES = ["google/gemini-2.0-flash-001", "google/gemini-2.0-flash", "google/gemini-2.5-flash"]
PRO_NAMES = ["google/gemini-2.5-pro"]
VERTEX_MODEL_NAMES = [*LITE_NAMES, *FLASH_NAMES, *PRO_NAMES]
EMBEDDING_MODEL_NAMES = ["text-embedding-005", "text-embedding-004", "gemini-embedding-001"]


# llama.cpp's draftless speculative decoding (see `speculative` below).
Speculative = Literal["none", "ngram-mod", "ngram-simple"]


class ModelConfig(BaseModel):
    """One engine and the names it answers to (a `[[models]]` table).

    With `upstreams`, the engine is a pool of OpenAI-compatible servers (vLLM,
    llama.cpp, SGLang, another openvertex…); without, the embedded llama.cpp.
    """

    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(min_length=1)
    families: list[str] = Field(
        default_factory=list,
        description="Gemini families it also answers (gemini-*-flash-lite*, gemini-*-flash*, "
        "gemini-*-pro*): every name of the family not served by its own name",
    )
    model: str | None = Field(
        default=None, description="as --model: a catalog name or a GGUF path; the default if unset"
    )
    parallel: int | None = Field(default=None, ge=1, le=64)
    context: int | None = Field(default=None, ge=256)
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads of this model; `threads` if unset"
    )
    speculative: Speculative | None = Field(
        default=None, description="the server's `speculative`, for this model"
    )
    upstreams: list[str] = Field(default_factory=list, description="base URLs, each ending /v1")
    upstream_model: str | None = Field(default=None, description="the name the upstream knows")
    api_key_env: str | None = Field(
        default=None,
        description="env var holding the upstream's key; gemini without one: Google's ADC",
    )
    dialect: Literal["vllm", "llamacpp", "sglang", "openai", "gemini"] = "openai"
    max_concurrency: int = Field(default=32, ge=1, description="requests at once per replica")
    timeout_seconds: float = Field(default=600, gt=0, description="deadline of one request")
    vision: bool = Field(default=False, description="the upstream model takes images itself")
    image_generation: bool = Field(
        default=False, description="the upstream draws: OpenAI's /images/generations, or Gemini's"
    )
    tools: Literal["native", "prompted"] = Field(
        default="native", description="native: the upstream parses calls; prompted: openvertex"
    )
    llguidance: bool = Field(
        default=False,
        description="llamacpp dialect: the upstream was built with llguidance, so openvertex "
        "sends its own grammars (calls, JSON, literals) as the embedded engine does",
    )

    embedding: bool = Field(
        default=False, description="an embedding model (GGUF): serves embeddings, not chat"
    )

    @model_validator(mode="after")
    def _one_engine(self) -> ModelConfig:
        if self.upstreams and self.model is not None:
            raise ValueError("a [[models]] entry takes `model` or `upstreams`, not both")
        if self.embedding and self.upstreams:
            raise ValueError("embedding models run on llama.cpp here for now: give `model`, a GGUF")
        for url in self.upstreams:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"upstream {url!r} is not an http(s) URL")
        if self.llguidance and self.dialect != "llamacpp":
            raise ValueError("llguidance grammars go to a llamacpp upstream only")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENVERTEX_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    model: str | None = Field(
        default=None,
        description="a catalog name or GGUF path, serving every name; unset: each tier of "
        "Gemini names on the best installed model for it",
    )
    data_dir: Path = Path("~/.openvertex")
    auth: bool = Field(default=True, description="False accepts any caller (loopback only)")
    public_url: str | None = Field(default=None, description="URL clients reach; for token_uri")
    parallel: int = Field(default=4, ge=1, le=64, description="llama.cpp slots decoded together")
    context: int = Field(default=4096, ge=256, description="context window of each request, tokens")
    threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads of each model; unset, the cores follow the work: the models "
        "computing at the moment share them",
    )
    cache_min_tokens: int = Field(
        default=2048, ge=0, description="the fewest tokens a context cache (cachedContents) holds"
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    served_models: list[str] | None = Field(
        default=None, description="the names `model` answers to; the Gemini names if unset"
    )
    models: list[ModelConfig] = Field(
        default_factory=list,
        description="several engines at once; without it, `model` answers to `served_models`",
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING,
        description="catalog name or GGUF path of the embedding model; empty for none",
    )
    embedding_names: list[str] = Field(default_factory=lambda: list(EMBEDDING_MODEL_NAMES))
    default_temperature: float | None = Field(
        default=None, ge=0, le=2, description="unset: what the model's authors recommend"
    )
    default_top_p: float | None = Field(default=None, ge=0, le=1)
    keep_alive_seconds: float | None = Field(
        default=300, ge=0, description="an idle in-process model unloads after this; None: never"
    )
    speculative: Speculative = Field(
        default="none",
        description="drafts from n-grams already seen, checked in one batch: ngram-mod (a "
        "pool of every request's tokens; much faster on code and JSON, but seeded sampling "
        "no longer reproduces and projects share the pool) or ngram-simple (the request's "
        "own tokens)",
    )
    preload: bool = Field(
        default=True,
        description="load the chat models at start-up, in tier order, while the memory budget "
        "allows, and keep them loaded; off: each loads on its first request",
    )
    models_memory_mib: int | None = Field(
        default=None,
        ge=64,
        description="weights loaded at once; past it the least recently used idle model "
        "unloads. Unset: half the machine's memory",
    )
    effort_budgets: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_EFFORT_BUDGETS),
        description="reasoning_effort level → thinking budget in tokens, for every model",
    )
    model_effort_budgets: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="the same, per served model name; replaces the default"
    )
    models_without_tools: list[str] = Field(
        default_factory=list, description="served model names that refuse `tools` with a 400"
    )
    media: bool = Field(default=True, description="read image and audio parts (OCR, Whisper)")
    whisper_model: Literal["tiny.en", "base"] = "tiny.en"
    max_audio_seconds: float = Field(default=600, gt=0)  # per clip and per request
    max_media_parts: int = Field(default=8, ge=1, le=64)
    image_url_allowlist: list[str] = Field(
        default_factory=list,
        description="hosts, IPs or networks (each optionally :port) image URLs may reach "
        "although they are private",
    )

    queue: int = Field(
        default=32, ge=0, description="requests that may wait for a slot; more get a fast 429"
    )
    grace_seconds: float = Field(
        default=30, ge=0, description="on SIGTERM, how long in-flight requests may finish"
    )
    default_rpm: int = Field(
        default=1200, ge=0, description="requests per minute per project, 0 for no limit"
    )
    default_tpm: int = Field(
        default=4_000_000, ge=0, description="tokens per minute per project, 0 for no limit"
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql://… : state shared by every replica; SQLite in the data dir if "
        "unset",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://… : quota windows shared by every replica; in process if unset",
    )
    quota_window_seconds: float = Field(
        default=60, gt=0, description="the quota window: a minute, as on Vertex (tests shorten it)"
    )
    metrics_detail: bool = Field(
        default=False,
        description="label /metrics token counts with project ids; /metrics is not behind auth",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="without auth, Host names served besides loopback's and the bound host "
        "(DNS rebinding guard); '*' serves any",
    )
    header_timeout_seconds: float = Field(
        default=10, gt=0, description="a connection must send a request's headers within this"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=4096, description="request line and headers; larger get 431"
    )
    max_connections: int = Field(
        default=1024,
        ge=16,
        description="open connections; more are answered 503 and closed. Keep it well above "
        "slots + queue, and below the process's file-descriptor limit",
    )

    @field_validator("image_url_allowlist")
    @classmethod
    def _allowlist(cls, entries: list[str]) -> list[str]:
        parse_allowlist(entries)  # a bad entry is a start-up error, not a 400 later
        return entries

    @model_validator(mode="after")
    def _names_unique(self) -> Settings:
        names = [name.removeprefix("google/") for entry in self.engines for name in entry.names]
        if len(set(names)) < len(names):
            raise ValueError("a model name is served twice (names answer with or without google/)")
        families = [family for entry in self.engines for family in entry.families]
        if len(set(families)) < len(families) or not set(families) <= set(FAMILIES):
            raise ValueError(f"each family is served once, and is one of {', '.join(FAMILIES)}")
        return self

    @property
    def engines(self) -> list[ModelConfig]:
        """What to load: the `[[models]]` tables, else `model` under `served_models`; and
        the embedding model under `embedding_names`, unless a table serves embeddings."""
        engines = self.models or self._default_engines()
        if self.embedding_model and not any(entry.embedding for entry in engines):
            embedder = ModelConfig(
                names=self.embedding_names, model=self.embedding_model, embedding=True
            )
            engines = [*engines, embedder]
        return engines

    def _default_engines(self) -> list[ModelConfig]:
        """`model` under every name and family (`served_models`: those names only); unset,
        each tier of names and its family on the best installed model for it: flash-lite
        on the fastest, flash on the next, pro on the best."""
        tiers = chat_tiers()
        if self.served_models is not None:
            return [ModelConfig(names=self.served_models, model=self.model)]
        if self.model is not None or not tiers:
            every = ModelConfig(names=VERTEX_MODEL_NAMES, families=list(FAMILIES), model=self.model)
            return [every]
        chosen: dict[str, tuple[list[str], list[str]]] = {}
        flash = tiers[min(1, len(tiers) - 1)]
        lite_family, flash_family, pro_family = FAMILIES
        for names, family, entry in (
            (LITE_NAMES, lite_family, tiers[0]),
            (FLASH_NAMES, flash_family, flash),
            (PRO_NAMES, pro_family, tiers[-1]),
        ):
            served, families = chosen.setdefault(entry.name, ([], []))
            served += names
            families.append(family)
        return [
            ModelConfig(names=names, families=families, model=model)
            for model, (names, families) in chosen.items()
        ]

    @property
    def memory_budget_bytes(self) -> int:
        if self.models_memory_mib is not None:
            return self.models_memory_mib << 20
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def database(self) -> str:
        """The store's URL: `database_url`, else the SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir.expanduser() / 'openvertex.db'}"

    def effort_budgets_for(self, model_id: str) -> dict[str, int]:
        """The effort mapping of one served model (`google/` prefix optional)."""
        for name in (model_id, model_id.removeprefix("google/"), f"google/{model_id}"):
            if name in self.model_effort_budgets:
                return self.model_effort_budgets[name]
        return self.effort_budgets


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """Settings from flags (None means "not given"), environment and `config_file`."""

    class _Layered(Settings):
        model_config = SettingsConfigDict(toml_file=config_file)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    if config_file is not None and not Path(config_file).is_file():
        raise FileNotFoundError(f"No config file at {config_file}")
    return _Layered(**{k: v for k, v in flags.items() if v is not None})
