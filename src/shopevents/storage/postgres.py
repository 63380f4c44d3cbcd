"""PostgreSQL: its connection (pipelines, ids from sequence blocks, multi-row INSERT and COPY
for queued rows) and its connection options."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from shopevents.clock import monotonic
from shopevents.errors import StorageUnavailable
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

ID_BLOCK = 256
# A block of ids is used within this many seconds of being taken from the sequence, or
# dropped. Report rollups count on it: they treat ids older than ten minutes as final, which
# holds only if no process can still write a smaller id it took long ago.
ID_BLOCK_SECONDS = 60.0
# The queued rows of one statement are written with COPY from this many on. COPY costs a
# third less CPU per row than a multi-row INSERT, client and server together, but cannot run
# in a pipeline, so it adds a few waits to its transaction.
COPY_MIN_ROWS = 100

BEGIN = Statement("BEGIN")
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"


def raise_if_unavailable(exc: Exception) -> None:
    """Raise StorageUnavailable if `exc` is psycopg's word for a broken connection."""
    import psycopg

    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        raise StorageUnavailable(str(exc)) from exc


class PostgresConn(Conn):
    """A PostgreSQL connection (autocommit, so transactions are explicit)."""

    dialect = "postgres"

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self._ids: dict[str, tuple[float, list[int]]] = {}  # table -> (taken at, ids)
        self.id_block_seconds = ID_BLOCK_SECONDS
        self._raw_cur: Any = None

    def _run(self, stmt: Statement, params: Sequence[Any]) -> Any:
        try:
            return self.raw.execute(stmt.postgres, params)
        except Exception as exc:
            raise_if_unavailable(exc)
            raise

    def _run_many(self, stmt: Statement, rows: list[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(stmt.postgres, rows)

    def rows_by_key(
        self, table: str, key_column: str, columns: str, store_id: str, keys: Sequence[str]
    ) -> list[Any]:
        """One index look-up per key, whatever the statistics (without them, `= ANY(...)` can
        be planned as a scan of the store)."""
        picked = ", ".join(f"x.{c.strip()}" for c in columns.split(","))
        return self.all(
            f"SELECT k.v, {picked} FROM unnest(?::text[]) AS k(v) CROSS JOIN LATERAL ("
            f"SELECT {columns} FROM {table} WHERE store_id = ? AND {key_column} = k.v "
            "OFFSET 0) x",
            (list(keys), store_id),
        )

    def insert_id(self, ins: Insert, params: Sequence[Any] = ()) -> int:
        """The id is taken from a block of the table's sequence numbers fetched ahead, so the
        INSERT needs no answer and pipelines with the rest of the transaction."""
        new_id = self._next_id(ins.table)
        self.execute(ins.with_id, (new_id, *params))
        return new_id

    def reserve_id(self, table: str) -> int:
        return self._next_id(table)

    def _next_id(self, table: str) -> int:
        entry = self._ids.get(table)
        now = monotonic()
        if entry is None or not entry[1] or now - entry[0] > self.id_block_seconds:
            rows = self.raw.execute(_NEXT_IDS, (table, ID_BLOCK)).fetchall()
            entry = self._ids[table] = (now, [int(r[0]) for r in reversed(rows)])
        return entry[1].pop()

    def _copies(self, ins: Insert, rows: list[Sequence[Any]]) -> bool:
        return len(rows) >= COPY_MIN_ROWS and ins.plain

    def _pipelined(self) -> bool:
        return bool(self.raw.pgconn.pipeline_status)  # psycopg.pq.PipelineStatus.OFF is 0

    def _write_rows(self, ins: Insert, rows: list[Sequence[Any]]) -> None:
        try:
            if self._copies(ins, rows) and not self._pipelined():
                with self.raw.cursor() as cur, cur.copy(ins.copy) as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            if len(rows) == 1:
                self.raw.execute(ins.postgres, rows[0])
                return
            if not ins.plain:
                with self.raw.cursor() as cur:
                    cur.executemany(ins.postgres, rows)
                return
            step = max(1, 30_000 // len(ins.columns))
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                self._raw_cursor().execute(ins.rows(len(chunk)), [p for row in chunk for p in row])
        except Exception as exc:
            raise_if_unavailable(exc)
            raise

    def _raw_cursor(self) -> Any:
        if self._raw_cur is None:
            import psycopg

            self._raw_cur = psycopg.RawCursor(self.raw)
        return self._raw_cur

    def _pipeline(self, pipelined: bool) -> AbstractContextManager[Any]:
        return self.raw.pipeline() if pipelined else nullcontext()

    def _begin(self) -> None:
        self.execute(BEGIN)

    def _unavailable(self, exc: Exception) -> None:
        raise_if_unavailable(exc)


def options(
    *, connect_timeout: int, statement_timeout_ms: int, lock_timeout_ms: int
) -> dict[str, Any]:
    """libpq options for every PostgreSQL connection: a bounded connect, statement and lock
    timeouts on the server, and TCP keepalives and a user timeout on the socket, so a server
    that stops answering (partitioned, or its host gone) is noticed in seconds instead of
    when the kernel gives up (minutes)."""
    return {
        "autocommit": True,
        "connect_timeout": connect_timeout,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,
        "options": f"-c statement_timeout={statement_timeout_ms}"
        f" -c lock_timeout={lock_timeout_ms}"
        " -c idle_in_transaction_session_timeout=60000",
    }


def connect(target: str, opts: dict[str, Any]) -> PostgresConn:
    """A connection to the PostgreSQL URL `target` with libpq options `opts`."""
    import psycopg

    try:
        return PostgresConn(psycopg.connect(target, **opts))
    except psycopg.OperationalError as exc:
        raise StorageUnavailable(str(exc)) from exc
