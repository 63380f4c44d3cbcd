"""Databases for one run: a fresh SQLite file or a fresh PostgreSQL database, the row counts
that prove durability, and clean-up."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# Where acknowledged work lands. Change here if the schema names differ.
COUNTED_TABLES = {
    "events": "events",  # one row per accepted / duplicate / conflict event
    "purchases": "purchases",  # one row per (store, purchaseId)
    "requests": "requests",  # one row per raw ingest request
}


def count_rows(conn, kind: str) -> int | None:
    """Rows of the table holding `kind` ("events", "purchases", "requests"); None if absent.

    Works on a sqlite3 or a psycopg connection. The single place to change if the
    storage layout differs from the assumed table names.
    """
    table = COUNTED_TABLES[kind]
    try:
        cur = conn.execute(f"SELECT count(*) FROM {table}")
        return int(cur.fetchone()[0])
    except Exception:
        if hasattr(conn, "rollback"):
            with contextlib.suppress(Exception):
                conn.rollback()
        return None


class Database:
    backend: str
    url: str

    def create(self) -> None: ...

    def counts(self) -> dict[str, int | None]: ...

    def drop(self) -> None: ...

    def connect(self): ...

    def server_pids(self) -> list[int]:
        """Database server processes working for this database (pinned and counted)."""
        return []


class SqliteDatabase(Database):
    backend = "sqlite"

    def __init__(self, workdir: Path | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="shopevents-bench-", dir=workdir))
        self.path = self.dir / "bench.db"
        self.url = f"sqlite:///{self.path}"

    def create(self) -> None:
        pass  # `shopevents migrate` creates the file

    def connect(self):
        return sqlite3.connect(self.path)

    def counts(self) -> dict[str, int | None]:
        if not self.path.exists():
            return dict.fromkeys(COUNTED_TABLES)
        conn = sqlite3.connect(self.path)
        try:
            return {kind: count_rows(conn, kind) for kind in COUNTED_TABLES}
        finally:
            conn.close()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("bench.db*"))

    def drop(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresDatabase(Database):
    backend = "postgres"

    def __init__(self, admin_url: str = PG_ADMIN_URL) -> None:
        self.admin_url = admin_url
        self.name = "bench_" + secrets.token_hex(6)
        base = admin_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def create(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def connect(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def counts(self) -> dict[str, int | None]:
        with self.connect() as conn:
            return {kind: count_rows(conn, kind) for kind in COUNTED_TABLES}

    def size_bytes(self) -> int:
        with self._admin() as conn:
            return int(conn.execute("SELECT pg_database_size(%s)", (self.name,)).fetchone()[0])

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def server_pids(self) -> list[int]:
        """Backends whose command line names this database (`postgres: ... user db ...`)."""
        out = []
        needle = f" {self.name} "
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres:") and needle.encode() in cmd.replace(b"\0", b" "):
                out.append(int(entry))
        return out


def pg_available(admin_url: str = PG_ADMIN_URL) -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def make_database(backend: str) -> Database:
    if backend == "sqlite":
        return SqliteDatabase()
    if backend == "postgres":
        return PostgresDatabase()
    raise ValueError(backend)
