"""SQLite: its connection (WAL, one writer, BEGIN IMMEDIATE) and its checkpointer thread."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from shopevents.errors import StorageBusy, StorageUnavailable
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

BEGIN_IMMEDIATE = Statement("BEGIN IMMEDIATE")


def _unavailable(exc: sqlite3.OperationalError) -> None:
    text = str(exc)
    if "locked" in text or "unable to open" in text or "disk" in text:
        raise StorageUnavailable(text) from exc


class SqliteConn(Conn):
    """A SQLite connection. Its writer holds the database's one write lock for the whole
    transaction, so the ids of appended rows follow each table's largest."""

    dialect = "sqlite"
    keeps_wal = True

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self._last_ids: dict[str, int] = {}  # table -> the last id handed out
        self._stale: set[str] = set()  # tables named by a statement since: read again

    def _run(self, stmt: Statement, params: Sequence[Any]) -> Any:
        try:
            return self.raw.execute(stmt.sqlite, params)
        except sqlite3.OperationalError as exc:
            _unavailable(exc)
            raise

    def _run_many(self, stmt: Statement, rows: list[Sequence[Any]]) -> None:
        self.raw.executemany(stmt.sqlite, rows)

    def rows_by_key(
        self, table: str, key_column: str, columns: str, store_id: str, keys: Sequence[str]
    ) -> list[Any]:
        test, params = self.any_of(keys)
        return self.all(
            f"SELECT {key_column}, {columns} FROM {table} WHERE store_id = ? AND {key_column} {test}",
            (store_id, *params),
        )

    def insert_id(self, ins: Insert, params: Sequence[Any] = ()) -> int:
        """The new row's id comes back through RETURNING, unless this transaction hands out
        the table's ids itself (`reserve_id`)."""
        if ins.table not in self._last_ids:
            return int(self.execute(ins.returning_id, params).fetchone()[0])
        new_id = self.reserve_id(ins.table)
        self.execute(ins.with_id, (new_id, *params))
        return new_id

    def reserve_id(self, table: str) -> int:
        # The writer lock is held (BEGIN IMMEDIATE): ids follow the table's largest. After a
        # statement that named the table, the largest is read again.
        last = self._last_ids.get(table)
        if last is None or table in self._stale:
            top = int(self.raw.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0])
            last = top if last is None else max(last, top)
            self._stale.discard(table)
        self._last_ids[table] = last + 1
        self._watched.add(table)
        return last + 1

    def _written(self, table: str) -> None:
        if table in self._last_ids:
            self._stale.add(table)

    def _write_rows(self, ins: Insert, rows: list[Sequence[Any]]) -> None:
        try:
            self.raw.executemany(ins.sqlite, rows)
        except sqlite3.OperationalError as exc:
            _unavailable(exc)
            raise

    def _forget_appended(self) -> None:
        super()._forget_appended()
        self._last_ids.clear()
        self._stale.clear()

    def _pipeline(self, pipelined: bool) -> AbstractContextManager[Any]:
        return nullcontext()

    def _begin(self) -> None:
        try:
            self.execute(BEGIN_IMMEDIATE)
        except StorageUnavailable as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StorageBusy(str(exc)) from exc
            raise


def connect(
    target: str, *, synchronous: str, busy_timeout_ms: int, writer_timeout_ms: int | None = None
) -> SqliteConn:
    """A connection to the SQLite file `target` (or ":memory:"), in WAL mode with foreign keys
    on; `writer_timeout_ms`: how long it waits for the write lock, instead of
    `busy_timeout_ms`."""
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        raw = sqlite3.connect(
            target, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute(f"PRAGMA synchronous={synchronous}")
        if writer_timeout_ms is not None:
            raw.execute(f"PRAGMA busy_timeout={int(writer_timeout_ms)}")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("PRAGMA cache_size=-16384")
    except sqlite3.Error as exc:
        raise StorageUnavailable(str(exc)) from exc
    return SqliteConn(raw)


class Checkpointer:
    """Moves SQLite's WAL checkpoints (and their fsyncs) off the writer: the writer connection
    turns automatic checkpoints off and this thread runs a PASSIVE checkpoint every
    `interval` seconds, or at once when woken, on its own connection (a TRUNCATE one when it
    stops). `passes` counts the checkpoints it has finished."""

    def __init__(self, db: Any, interval: float = 0.5) -> None:
        self.db = db  # a Database: anything with connect() -> Conn
        self.interval = interval
        self.passes = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Checkpoint now rather than at the end of the interval."""
        self._wake.set()

    def _run(self) -> None:
        conn: Conn | None = None
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                conn = conn or self.db.connect()
                conn.execute(PASSIVE_CHECKPOINT)
            except Exception:
                if conn is not None:
                    conn.close()
                conn = None
            self.passes += 1
        try:
            conn = conn or self.db.connect()
            conn.execute(TRUNCATE_CHECKPOINT)
        except Exception:
            pass
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)


PASSIVE_CHECKPOINT = Statement("PRAGMA wal_checkpoint(PASSIVE)")
TRUNCATE_CHECKPOINT = Statement("PRAGMA wal_checkpoint(TRUNCATE)")


def hold_checkpoints(conn: Conn, journal_limit: int) -> None:
    """The writer's connection: no automatic checkpoints (a `Checkpointer` runs them), and a
    restarted log cut back to `journal_limit` bytes (so the file's size tells how much was
    written since the restart)."""
    conn.execute(Statement("PRAGMA wal_autocheckpoint=0"))
    conn.execute(Statement(f"PRAGMA journal_size_limit={int(journal_limit)}"))


def checkpoint_passive(conn: Conn) -> None:
    """Copy what the log holds into the database file, without waiting for readers."""
    conn.execute(PASSIVE_CHECKPOINT)


def wal_bytes(target: str) -> int | None:
    """The size of the database's write-ahead log file, or None if it cannot be read."""
    try:
        return os.path.getsize(target + "-wal")
    except OSError:
        return None
