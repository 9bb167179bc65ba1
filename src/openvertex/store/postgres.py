"""The shared store: PostgreSQL, for replicas that must act as one server.

Calls come from worker threads (never the event loop), so a pool of plain
psycopg connections serves them. An unreachable database is a 503 UNAVAILABLE
for the request that needed it, never a 500; the pool reconnects on its own
when the database is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from openvertex.errors import Unavailable
from openvertex.store.sql import MIGRATIONS, VERSIONS, SQLStore

_MIGRATION_LOCK = 0x6F76  # pg_advisory_xact_lock key: one replica migrates at a time


class PostgresStore(SQLStore):
    def __init__(self, url: str, *, max_connections: int = 16, wait_s: float = 3.0) -> None:
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            timeout=wait_s,
            check=ConnectionPool.check_connection,  # a connection from before a restart is dropped
            kwargs={"connect_timeout": max(1, round(wait_s))},
            open=False,
        )
        self._pool.open()
        self._migrate()  # and a first connection: an unreachable database fails here

    def _migrate(self) -> None:
        with self._connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            db.execute(VERSIONS)
            (done,) = db.execute("SELECT MAX(version) FROM schema_versions").fetchone()  # type: ignore[misc]  # an aggregate always returns its one row
            for version in range((done or 0) + 1, len(MIGRATIONS) + 1):
                db.execute(MIGRATIONS[version - 1])
                db.execute("INSERT INTO schema_versions VALUES (%s)", (version,))

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection() as db:
                yield db
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable("The state database cannot be reached; retry in a moment.") from exc

    def _rows(self, sql: str, *args: object) -> list[tuple]:
        with self._connection() as db:
            return db.execute(sql.replace("?", "%s"), args).fetchall()

    def _write(self, sql: str, *args: object) -> int:
        with self._connection() as db:
            return db.execute(sql.replace("?", "%s"), args).rowcount

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        with self._connection() as db, db.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    def close(self) -> None:
        self._pool.close()
