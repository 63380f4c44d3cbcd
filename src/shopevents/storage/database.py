"""The database a URL names: its backend, connections to it (a pool for readers) and its
migrations.

Statements are declared with their text for each backend (`statements.py`); a connection
(`connection.Conn`, made by `sqlite.py` or `postgres.py`) runs its own backend's text. Each
backend owns its DDL (numbered migrations per backend, `migrate.py`) and its settings.
"""

from __future__ import annotations

import queue
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shopevents.config import Settings
from shopevents.errors import StorageUnavailable
from shopevents.storage import migrate, postgres, sqlite
from shopevents.storage.connection import Conn, Dialect
from shopevents.storage.postgres import COPY_MIN_ROWS, ID_BLOCK, ID_BLOCK_SECONDS
from shopevents.storage.sqlite import Checkpointer
from shopevents.storage.statements import Statement

__all__ = [
    "COPY_MIN_ROWS",
    "ID_BLOCK",
    "ID_BLOCK_SECONDS",
    "Checkpointer",
    "Conn",
    "Database",
    "Dialect",
    "open_database",
    "parse_url",
    "probe_write",
]


def parse_url(url: str) -> tuple[Dialect, str]:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    if url.startswith("sqlite:///"):
        return "sqlite", url[len("sqlite:///") :] or ":memory:"
    if url.startswith("sqlite://"):
        return "sqlite", url[len("sqlite://") :] or ":memory:"
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")


_PROBE = Statement("INSERT INTO commit_marks (at, token) VALUES (?, 'probe')")
_UNPROBE = Statement("DELETE FROM commit_marks WHERE at = ? AND token = 'probe'")


def probe_write(conn: Conn, now: int) -> None:
    """A write that leaves nothing behind, to learn whether the database takes writes."""
    conn.execute(_PROBE, (now,))
    conn.execute(_UNPROBE, (now,))


def open_database(settings: Settings) -> Database:
    """The database the settings name, with their storage options."""
    st = settings.storage
    return Database(
        settings.database_url,
        synchronous=st.sqlite_synchronous,
        busy_timeout_ms=st.busy_timeout_ms,
        pool_size=st.read_pool_size,
        connect_timeout=st.connect_timeout_seconds,
        statement_timeout_ms=st.statement_timeout_ms,
        lock_timeout_ms=st.lock_timeout_ms,
    )


class Database:
    """Knows how to open connections to one database and migrate it."""

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        pool_size: int = 4,
        connect_timeout: int = 3,
        statement_timeout_ms: int = 30_000,
        lock_timeout_ms: int = 5_000,
    ) -> None:
        self.url = url
        self.dialect, self.target = parse_url(url)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self.pool_size = pool_size
        self.connect_timeout = max(1, int(connect_timeout))
        self.statement_timeout_ms = max(0, int(statement_timeout_ms))
        self.lock_timeout_ms = max(0, int(lock_timeout_ms))
        self._pool: queue.LifoQueue[Conn] = queue.LifoQueue()
        self._lock = threading.Lock()

    @property
    def one_writer(self) -> bool:
        """Whether the database takes one writer at a time, in this process (SQLite)."""
        return self.dialect == "sqlite"

    # -- connections --------------------------------------------------------------------

    def pg_options(self) -> dict[str, Any]:
        """libpq options for every PostgreSQL connection (see `postgres.options`)."""
        return postgres.options(
            connect_timeout=self.connect_timeout,
            statement_timeout_ms=self.statement_timeout_ms,
            lock_timeout_ms=self.lock_timeout_ms,
        )

    def connect(self, *, busy_timeout_ms: int | None = None) -> Conn:
        """A new connection. `busy_timeout_ms` (SQLite): how long it waits for the write lock,
        instead of `self.busy_timeout_ms`."""
        if self.dialect == "postgres":
            return postgres.connect(self.target, self.pg_options())
        return sqlite.connect(
            self.target,
            synchronous=self.synchronous,
            busy_timeout_ms=self.busy_timeout_ms,
            writer_timeout_ms=busy_timeout_ms,
        )

    @contextmanager
    def reader(self) -> Iterator[Conn]:
        """A pooled connection for reads (API, dashboard, reports), any thread."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self.connect()
        ok = True
        try:
            yield conn
        except StorageUnavailable:
            ok = False
            self.close()  # the other pooled connections died in the same outage
            raise
        finally:
            if ok and self._pool.qsize() < self.pool_size:
                self._pool.put(conn)
            else:
                conn.close()

    def free_bytes(self) -> int | None:
        """SQLite: free space on the database's filesystem (None for PostgreSQL and memory)."""
        if self.dialect != "sqlite" or self.target == ":memory:":
            return None
        try:
            return shutil.disk_usage(Path(self.target).resolve().parent).free
        except OSError:
            return None

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break

    # -- migrations ----------------------------------------------------------------------

    def migrations(self) -> list[tuple[int, str, str]]:
        return migrate.migrations(self.dialect)

    def applied(self, conn: Conn) -> set[int]:
        return migrate.applied(conn)

    def migrate(self, up_to: int | None = None) -> list[str]:
        """Apply every migration not yet applied (numbered up to `up_to`, if given), each in
        its own transaction, on a connection of its own (on PostgreSQL it holds the migration
        lock until it closes)."""
        conn = self.connect()
        try:
            return migrate.migrate(conn, up_to)
        finally:
            conn.close()

    def pending_migrations(self) -> list[str]:
        """The migrations not yet applied, read on a pooled connection (kept for the reads
        that follow)."""
        with self.reader() as conn:
            applied = migrate.applied(conn)
        return [name for version, name, _ in self.migrations() if version not in applied]
