"""Settings: command-line flags, then `OPENVERTEX_*` environment, then a TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The names a Vertex user sends; each also answers without its `google/` prefix.
VERTEX_MODEL_NAMES = [
    "google/gemini-2.0-flash-001",
    "google/gemini-2.0-flash",
    "google/gemini-2.5-flash",
    "google/gemini-2.5-pro",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENVERTEX_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    model: str | None = Field(default=None, description="GGUF path; empty for the embedded model")
    data_dir: Path = Path("~/.openvertex")
    auth: bool = Field(default=True, description="False accepts any caller (loopback only)")
    public_url: str | None = Field(default=None, description="URL clients reach; for token_uri")
    parallel: int = Field(default=4, ge=1, le=64, description="llama.cpp slots decoded together")
    context: int = Field(default=4096, ge=256, description="context window of each request, tokens")
    threads: int | None = Field(default=None, ge=1, description="CPU threads; all cores if unset")
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    served_models: list[str] = Field(default_factory=lambda: list(VERTEX_MODEL_NAMES))
    default_temperature: float = Field(default=1.0, ge=0, le=2)
    default_top_p: float = Field(default=0.95, ge=0, le=1)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def database(self) -> Path:
        return self.data_dir.expanduser() / "openvertex.db"


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
