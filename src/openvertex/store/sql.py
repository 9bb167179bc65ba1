"""Every query the store makes, written once for SQLite and PostgreSQL alike.

The SQL here is the part both speak (`?` marks become `%s` for PostgreSQL; casts
give PostgreSQL the parameter types it cannot guess). A backend supplies only a
connection: `_rows` for reads, `_write` for changes, and its own migration lock.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict

from openvertex.store.base import (
    ApiKey,
    CachedContent,
    ProjectQuota,
    ServiceAccountKey,
    TokenGrant,
    UsageRecord,
    UsageTotal,
)

# Migration N is MIGRATIONS[N - 1]; a database records the versions it has.
MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS service_account_keys (
    key_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    project TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES service_account_keys(key_id),
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS project_grants (
    project TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (project, email)
);
CREATE TABLE IF NOT EXISTS usage (
    at DOUBLE PRECISION NOT NULL,
    request_id TEXT NOT NULL,
    project TEXT NOT NULL,
    principal TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_by_project ON usage (project, at);
CREATE TABLE IF NOT EXISTS project_quotas (
    project TEXT PRIMARY KEY,
    rpm INTEGER,
    tpm INTEGER
);
""",
    """
CREATE INDEX IF NOT EXISTS access_tokens_by_expiry ON access_tokens (expires_at);
CREATE UNIQUE INDEX IF NOT EXISTS usage_once ON usage (request_id, at);
""",
    """
ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN ttft_ms DOUBLE PRECISION;
CREATE INDEX IF NOT EXISTS usage_by_time ON usage (at);
""",
    """
CREATE TABLE IF NOT EXISTS server_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
""",
    """
CREATE TABLE IF NOT EXISTS cached_contents (
    cache_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    location TEXT NOT NULL,
    model TEXT NOT NULL,
    display_name TEXT NOT NULL,
    body TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS cached_contents_by_project ON cached_contents (project, cache_id);
""",
]
# In the order a copy must load them: keys before the tokens that point at them.
TABLES = ("service_account_keys", "access_tokens", "api_keys", "project_grants",
          "project_quotas", "usage", "server_secrets", "cached_contents")  # fmt: skip
VERSIONS = "CREATE TABLE IF NOT EXISTS schema_versions (version INTEGER PRIMARY KEY)"
PURGE_AFTER_S = 86_400  # expired tokens are kept a day, so they are refused as expired
_API_KEY = "key_id, project, created_at, revoked_at, admin"


def _api_key(row: tuple) -> ApiKey:
    key_id, project, created_at, revoked_at, admin = row
    return ApiKey(key_id, project, created_at, revoked_at, bool(admin))


class SQLStore:
    """The store's queries; subclasses give them a database."""

    def _rows(self, sql: str, *args: object) -> list[tuple]:
        raise NotImplementedError

    def _write(self, sql: str, *args: object) -> int:
        """Run a change; the number of rows it touched."""
        raise NotImplementedError

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        """Run a change once per row, in one transaction."""
        raise NotImplementedError

    def add_key(self, key: ServiceAccountKey) -> None:
        self._write("INSERT INTO service_account_keys VALUES (?, ?, ?, ?, ?, ?)",
                    *asdict(key).values())  # fmt: skip

    def get_key(self, key_id: str) -> ServiceAccountKey | None:
        rows = self._rows("SELECT * FROM service_account_keys WHERE key_id = ?", key_id)
        return ServiceAccountKey(*rows[0]) if rows else None

    def list_keys(self, project: str | None = None) -> list[ServiceAccountKey]:
        rows = self._rows(
            "SELECT * FROM service_account_keys"
            " WHERE CAST(? AS TEXT) IS NULL OR project = ? ORDER BY created_at",
            project,
            project,
        )
        return [ServiceAccountKey(*row) for row in rows]

    def revoke_key(self, key_id: str, when: float) -> bool:
        return (
            self._write(
                "UPDATE service_account_keys SET revoked_at = ?"
                " WHERE key_id = ? AND revoked_at IS NULL",
                when,
                key_id,
            )
            == 1
        )

    def add_access_token(self, token_hash: str, key_id: str, expires_at: float) -> None:
        self._write("INSERT INTO access_tokens VALUES (?, ?, ?)", token_hash, key_id, expires_at)
        # Tokens long expired go as new ones come: a token lives an hour.
        self._write(
            "DELETE FROM access_tokens WHERE expires_at < ?", expires_at - 3600 - PURGE_AFTER_S
        )

    def find_access_token(self, token_hash: str) -> TokenGrant | None:
        rows = self._rows(
            "SELECT t.key_id, k.email, k.project, t.expires_at, k.revoked_at IS NOT NULL"
            " FROM access_tokens t JOIN service_account_keys k ON k.key_id = t.key_id"
            " WHERE t.token_hash = ?",
            token_hash,
        )
        if not rows:
            return None
        key_id, email, project, expires_at, revoked = rows[0]
        return TokenGrant(key_id, email, project, expires_at, bool(revoked))

    def add_api_key(self, key_hash: str, key: ApiKey) -> None:
        self._write(
            "INSERT INTO api_keys (key_hash, key_id, project, created_at, revoked_at, admin)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            key_hash, key.key_id, key.project, key.created_at, key.revoked_at, int(key.admin),
        )  # fmt: skip

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        rows = self._rows(f"SELECT {_API_KEY} FROM api_keys WHERE key_hash = ?", key_hash)
        return _api_key(rows[0]) if rows else None

    def list_api_keys(self, project: str | None = None) -> list[ApiKey]:
        rows = self._rows(
            f"SELECT {_API_KEY} FROM api_keys"
            " WHERE CAST(? AS TEXT) IS NULL OR project = ? ORDER BY created_at",
            project,
            project,
        )
        return [_api_key(row) for row in rows]

    def revoke_api_key(self, key_id: str, when: float) -> bool:
        return (
            self._write(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                when,
                key_id,
            )
            == 1
        )

    def grant(self, project: str, email: str) -> None:
        self._write(
            "INSERT INTO project_grants VALUES (?, ?) ON CONFLICT DO NOTHING", project, email
        )

    def list_grants(self) -> list[tuple[str, str]]:
        return self._rows("SELECT project, email FROM project_grants ORDER BY project, email")

    def is_granted(self, project: str, email: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 FROM project_grants WHERE project = ? AND email = ?", project, email
            )
        )

    def record_usage(self, record: UsageRecord) -> None:
        row = asdict(record)
        columns, marks = ", ".join(row), ", ".join("?" * len(row))
        self._write(f"INSERT INTO usage ({columns}) VALUES ({marks})", *row.values())

    def usage_totals(
        self, project: str | None = None, since: float | None = None
    ) -> list[UsageTotal]:
        rows = self._rows(
            "SELECT project, principal, model, COUNT(*),"
            " SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END),"
            " SUM(prompt_tokens), SUM(completion_tokens), SUM(reasoning_tokens), AVG(latency_ms)"
            " FROM usage WHERE (CAST(? AS TEXT) IS NULL OR project = ?)"
            " AND (CAST(? AS DOUBLE PRECISION) IS NULL OR at >= ?)"
            " GROUP BY project, principal, model ORDER BY project, principal, model",
            project,
            project,
            since,
            since,
        )
        return [UsageTotal(*row) for row in rows]

    def usage_records(self, since: float, limit: int) -> list[UsageRecord]:
        """The newest `limit` rows since `since`, oldest first."""
        columns = ", ".join(UsageRecord.__dataclass_fields__)
        rows = self._rows(
            f"SELECT {columns} FROM usage WHERE at >= ? ORDER BY at DESC LIMIT ?", since, limit
        )
        return [UsageRecord(*row) for row in reversed(rows)]

    def set_quota(self, quota: ProjectQuota) -> None:
        self._write(
            "INSERT INTO project_quotas VALUES (?, ?, ?) ON CONFLICT (project)"
            " DO UPDATE SET rpm = excluded.rpm, tpm = excluded.tpm",
            quota.project,
            quota.rpm,
            quota.tpm,
        )

    def get_quota(self, project: str) -> ProjectQuota | None:
        rows = self._rows("SELECT * FROM project_quotas WHERE project = ?", project)
        return ProjectQuota(*rows[0]) if rows else None

    def ledger_projects(self) -> list[str]:
        """Every project the ledger names (read off its (project, at) index)."""
        return [row[0] for row in self._rows("SELECT DISTINCT project FROM usage")]

    def list_quotas(self) -> list[ProjectQuota]:
        return [ProjectQuota(*row) for row in self._rows("SELECT * FROM project_quotas")]

    def server_secret(self, name: str) -> bytes:
        """A random key of the server's, made by whichever replica asks first, so that
        every replica on this store signs and checks alike."""
        self._write(
            "INSERT INTO server_secrets VALUES (?, ?) ON CONFLICT DO NOTHING",
            name,
            secrets.token_hex(32),
        )
        (value,) = self._rows("SELECT value FROM server_secrets WHERE name = ?", name)[0]
        return bytes.fromhex(value)

    def add_cache(self, cache: CachedContent) -> None:
        self._write(f"INSERT INTO cached_contents VALUES ({', '.join('?' * 10)})",
                    *asdict(cache).values())  # fmt: skip

    def get_cache(self, project: str, cache_id: str, now: float) -> CachedContent | None:
        """A project's cache, unless it has expired (another project's is not there)."""
        rows = self._rows(
            "SELECT * FROM cached_contents WHERE cache_id = ? AND project = ? AND expires_at > ?",
            cache_id,
            project,
            now,
        )
        return CachedContent(*rows[0]) if rows else None

    def list_caches(
        self, project: str, now: float, limit: int, after: str | None
    ) -> list[CachedContent]:
        """A project's live caches in id order, `limit` of them after the id `after`.
        The expired go as the list is read."""
        self._write("DELETE FROM cached_contents WHERE expires_at <= ?", now)
        rows = self._rows(
            "SELECT * FROM cached_contents WHERE project = ? AND cache_id > ?"
            " ORDER BY cache_id LIMIT ?",
            project,
            after or "",
            limit,
        )
        return [CachedContent(*row) for row in rows]

    def set_cache_expiry(
        self, project: str, cache_id: str, expires_at: float, now: float
    ) -> CachedContent | None:
        changed = self._write(
            "UPDATE cached_contents SET expires_at = ?, updated_at = ?"
            " WHERE cache_id = ? AND project = ? AND expires_at > ?",
            expires_at,
            now,
            cache_id,
            project,
            now,
        )
        return self.get_cache(project, cache_id, now) if changed else None

    def delete_cache(self, project: str, cache_id: str, now: float) -> bool:
        return bool(
            self._write(
                "DELETE FROM cached_contents WHERE cache_id = ? AND project = ? AND expires_at > ?",
                cache_id,
                project,
                now,
            )
        )

    def table_rows(self, table: str) -> list[tuple]:
        """A whole table, for `openvertex store copy`."""
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        return self._rows(f"SELECT * FROM {table}")

    def add_rows(self, table: str, rows: list[tuple]) -> None:
        """Rows another store holds; those already here are kept as they are."""
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self._write_many(f"INSERT INTO {table} VALUES ({marks}) ON CONFLICT DO NOTHING", rows)
