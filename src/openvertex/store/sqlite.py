"""The default store: one SQLite file in the data dir, in WAL mode.

Lookups are primary-key reads of a few microseconds, so they run inline; one
lock serialises the shared connection across the server's threads.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path

from openvertex.store.base import (
    ApiKey,
    ProjectQuota,
    ServiceAccountKey,
    TokenGrant,
    UsageRecord,
    UsageTotal,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS service_account_keys (
    key_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    project TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES service_account_keys(key_id),
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS project_grants (
    project TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (project, email)
);
CREATE TABLE IF NOT EXISTS usage (
    at REAL NOT NULL,
    request_id TEXT NOT NULL,
    project TEXT NOT NULL,
    principal TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_by_project ON usage (project, at);
CREATE TABLE IF NOT EXISTS project_quotas (
    project TEXT PRIMARY KEY,
    rpm INTEGER,
    tpm INTEGER
);
"""


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # WAL with NORMAL sync: a committed row survives the process being killed
        # (only a power cut can lose the last commits), at a fraction of FULL's cost.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def _run(self, sql: str, *args: object) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def add_key(self, key: ServiceAccountKey) -> None:
        self._run(
            "INSERT INTO service_account_keys VALUES (?, ?, ?, ?, ?, ?)",
            key.key_id,
            key.email,
            key.project,
            key.public_key,
            key.created_at,
            key.revoked_at,
        )

    def get_key(self, key_id: str) -> ServiceAccountKey | None:
        row = self._run("SELECT * FROM service_account_keys WHERE key_id = ?", key_id).fetchone()
        return ServiceAccountKey(*row) if row else None

    def list_keys(self, project: str | None = None) -> list[ServiceAccountKey]:
        rows = self._run(
            "SELECT * FROM service_account_keys WHERE ? IS NULL OR project = ? ORDER BY created_at",
            project,
            project,
        ).fetchall()
        return [ServiceAccountKey(*row) for row in rows]

    def revoke_key(self, key_id: str, when: float) -> bool:
        cursor = self._run(
            "UPDATE service_account_keys SET revoked_at = ?"
            " WHERE key_id = ? AND revoked_at IS NULL",
            when,
            key_id,
        )
        return cursor.rowcount == 1

    def add_access_token(self, token_hash: str, key_id: str, expires_at: float) -> None:
        self._run("INSERT INTO access_tokens VALUES (?, ?, ?)", token_hash, key_id, expires_at)

    def find_access_token(self, token_hash: str) -> TokenGrant | None:
        row = self._run(
            "SELECT t.key_id, k.email, k.project, t.expires_at, k.revoked_at IS NOT NULL"
            " FROM access_tokens t JOIN service_account_keys k ON k.key_id = t.key_id"
            " WHERE t.token_hash = ?",
            token_hash,
        ).fetchone()
        return TokenGrant(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

    def add_api_key(self, key_hash: str, key: ApiKey) -> None:
        self._run(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)",
            key_hash,
            key.key_id,
            key.project,
            key.created_at,
            key.revoked_at,
        )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = self._run(
            "SELECT key_id, project, created_at, revoked_at FROM api_keys WHERE key_hash = ?",
            key_hash,
        ).fetchone()
        return ApiKey(*row) if row else None

    def list_api_keys(self, project: str | None = None) -> list[ApiKey]:
        rows = self._run(
            "SELECT key_id, project, created_at, revoked_at FROM api_keys"
            " WHERE ? IS NULL OR project = ? ORDER BY created_at",
            project,
            project,
        ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke_api_key(self, key_id: str, when: float) -> bool:
        cursor = self._run(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            when,
            key_id,
        )
        return cursor.rowcount == 1

    def grant(self, project: str, email: str) -> None:
        self._run("INSERT OR IGNORE INTO project_grants VALUES (?, ?)", project, email)

    def is_granted(self, project: str, email: str) -> bool:
        row = self._run(
            "SELECT 1 FROM project_grants WHERE project = ? AND email = ?", project, email
        ).fetchone()
        return row is not None

    def record_usage(self, record: UsageRecord) -> None:
        row = asdict(record)
        columns, marks = ", ".join(row), ", ".join("?" * len(row))
        self._run(f"INSERT INTO usage ({columns}) VALUES ({marks})", *row.values())

    def usage_totals(
        self, project: str | None = None, since: float | None = None
    ) -> list[UsageTotal]:
        rows = self._run(
            "SELECT project, principal, model, COUNT(*), SUM(status >= 400),"
            " SUM(prompt_tokens), SUM(completion_tokens), SUM(reasoning_tokens), AVG(latency_ms)"
            " FROM usage WHERE (? IS NULL OR project = ?) AND (? IS NULL OR at >= ?)"
            " GROUP BY project, principal, model ORDER BY project, principal, model",
            project,
            project,
            since,
            since,
        ).fetchall()
        return [UsageTotal(*row) for row in rows]

    def set_quota(self, quota: ProjectQuota) -> None:
        self._run(
            "INSERT INTO project_quotas VALUES (?, ?, ?) ON CONFLICT (project)"
            " DO UPDATE SET rpm = excluded.rpm, tpm = excluded.tpm",
            quota.project,
            quota.rpm,
            quota.tpm,
        )

    def get_quota(self, project: str) -> ProjectQuota | None:
        row = self._run("SELECT * FROM project_quotas WHERE project = ?", project).fetchone()
        return ProjectQuota(*row) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
