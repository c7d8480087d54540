"""Real PostgreSQL and Redis servers for the production tests, on 127.0.0.1 in temporary folders.

PostgreSQL refuses to run as root: as root the server runs as the `postgres` user (`runuser`),
in a folder that user owns. In CI (CI=true or QLIR_REQUIRE_REAL_DATA=1) a missing server binary
fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("QLIR_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PG_USER = "postgres"


def required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("QLIR_REQUIRE_REAL_DATA") == "1"


def missing(what: str) -> None:
    """Fail in CI, skip (with the reason) elsewhere."""
    if required():
        pytest.fail(f"{what} (required in CI: .ci/run installs it)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str = PG_USER
    password: str = ""
    db: str = "postgres"

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db,
        }

    def query(self, sql: str) -> list[tuple[object, ...]]:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=self.db
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def create_database(self, name: str) -> Postgres:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=self.db
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return Postgres(self.port, self.user, self.password, name)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """initdb in a fresh folder, the server on a free port (trust auth, 127.0.0.1 only)."""
    if not (PG_BIN / "initdb").exists():
        missing(f"PostgreSQL not found at {PG_BIN} (Debian's postgresql package)")
    folder = Path(tempfile.mkdtemp(prefix="qlir-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, PG_USER, PG_USER)
    data, log = folder / "data", folder / "server.log"
    port = free_port()
    run = {"check": True, "capture_output": True, "cwd": folder}
    try:
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER]),
            **run,  # type: ignore[arg-type]
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            **run,  # type: ignore[arg-type]
        )
        yield Postgres(port)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                cwd=folder,
            )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[str]:
    """redis-server on a free port, nothing saved to disk; its URL (database 0)."""
    if not Path(REDIS_SERVER).exists():
        missing("redis-server not found (Debian's redis-server package)")
    folder = Path(tempfile.mkdtemp(prefix="qlir-redis-"))
    port = free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
