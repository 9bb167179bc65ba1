"""The default store: one SQLite file in the data dir, in WAL mode.

Lookups are primary-key reads of a few microseconds; one lock serialises the
shared connection across the server's threads. It holds key hashes and the ledger:
the file is its owner's only (600), in a directory made 700.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from openvertex.private_files import create_private, private_dir
from openvertex.store.sql import MIGRATIONS, VERSIONS, SQLStore


class SQLiteStore(SQLStore):
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        create_private(path)  # SQLite gives its -wal and -shm files the same mode
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # WAL with NORMAL sync: a committed row survives the process being killed
        # (only a power cut can lose the last commits), at a fraction of FULL's cost.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one process migrates; others wait
            try:
                self._db.execute(VERSIONS)
                done = self._db.execute("SELECT MAX(version) FROM schema_versions").fetchone()[0]
                for version in range((done or 0) + 1, len(MIGRATIONS) + 1):
                    for statement in MIGRATIONS[version - 1].split(";"):
                        self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_versions VALUES (?)", (version,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, *args: object) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, *args: object) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def _write_many(self, sql: str, rows: list[tuple]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
