"""Durable state: service-account keys, access tokens, API keys, project grants, quotas, ledger."""

from __future__ import annotations

from pathlib import Path

from openvertex.store.base import Store


def open_store(url: str) -> Store:
    """`sqlite:///path` (SQLAlchemy's form: four slashes before an absolute path) or
    `postgresql://user:password@host:port/db`."""
    if url.startswith("sqlite:///"):
        from openvertex.store.sqlite import SQLiteStore

        return SQLiteStore(Path(url.removeprefix("sqlite:///")).expanduser())
    if url.startswith(("postgresql://", "postgres://")):
        from openvertex.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"a database URL is sqlite:///… or postgresql://…, not {url!r}")
