"""What openvertex keeps, as plain records, and the interface any backend offers.

Secrets are never stored: only public keys, and SHA-256 hashes of access tokens
and API keys, looked up by that hash (no string comparison to time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    key_id: str
    email: str
    project: str
    public_key: str  # PEM
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What an access token stands for."""

    key_id: str
    email: str
    project: str
    expires_at: float
    key_revoked: bool


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    project: str
    created_at: float
    revoked_at: float | None = None
    admin: bool = False  # may act in any project, and use the console


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One answered chat request, as the ledger keeps it."""

    at: float
    request_id: str
    project: str
    principal: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    latency_ms: float
    status: int
    ttft_ms: float | None = None  # time to the first text, thought or call; None if none came


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """The ledger summed over one project, principal and model."""

    project: str
    principal: str
    model: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    mean_latency_ms: float


@dataclass(frozen=True, slots=True)
class ProjectQuota:
    """A project's own limits; None keeps the server's default."""

    project: str
    rpm: int | None
    tpm: int | None


@dataclass(frozen=True, slots=True)
class CachedContent:
    """A context cache (Vertex's `cachedContents`): a prompt's head, kept for a project."""

    cache_id: str
    project: str
    location: str
    model: str  # the publisher model it was made for, as `publishers/google/models/M`
    display_name: str
    body: str  # JSON: its contents, systemInstruction, tools and toolConfig, as sent
    tokens: int
    created_at: float
    updated_at: float
    expires_at: float


class Store(Protocol):
    def add_key(self, key: ServiceAccountKey) -> None: ...
    def get_key(self, key_id: str) -> ServiceAccountKey | None: ...
    def list_keys(self, project: str | None = None) -> list[ServiceAccountKey]: ...
    def revoke_key(self, key_id: str, when: float) -> bool: ...

    def add_access_token(self, token_hash: str, key_id: str, expires_at: float) -> None: ...
    def find_access_token(self, token_hash: str) -> TokenGrant | None: ...

    def add_api_key(self, key_hash: str, key: ApiKey) -> None: ...
    def find_api_key(self, key_hash: str) -> ApiKey | None: ...
    def list_api_keys(self, project: str | None = None) -> list[ApiKey]: ...
    def revoke_api_key(self, key_id: str, when: float) -> bool: ...

    def grant(self, project: str, email: str) -> None: ...
    def is_granted(self, project: str, email: str) -> bool: ...

    def record_usage(self, record: UsageRecord) -> None: ...
    def usage_totals(
        self, project: str | None = None, since: float | None = None
    ) -> list[UsageTotal]: ...

    def usage_records(self, since: float, limit: int) -> list[UsageRecord]: ...
    def ledger_projects(self) -> list[str]: ...

    def list_grants(self) -> list[tuple[str, str]]: ...

    def set_quota(self, quota: ProjectQuota) -> None: ...
    def get_quota(self, project: str) -> ProjectQuota | None: ...
    def list_quotas(self) -> list[ProjectQuota]: ...

    def server_secret(self, name: str) -> bytes: ...

    def add_cache(self, cache: CachedContent) -> None: ...
    def get_cache(self, project: str, cache_id: str, now: float) -> CachedContent | None: ...
    def list_caches(
        self, project: str, now: float, limit: int, after: str | None
    ) -> list[CachedContent]: ...
    def set_cache_expiry(
        self, project: str, cache_id: str, expires_at: float, now: float
    ) -> CachedContent | None: ...
    def delete_cache(self, project: str, cache_id: str, now: float) -> bool: ...

    def table_rows(self, table: str) -> list[tuple]: ...
    def add_rows(self, table: str, rows: list[tuple]) -> None: ...

    def close(self) -> None: ...
