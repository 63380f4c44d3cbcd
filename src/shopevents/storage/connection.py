"""One connection to either backend: statements, write transactions and queued rows.

`Conn` holds what both backends share: running declared statements (see `statements.py`),
the rows a transaction appends and writes together, the rows it composes just before a
table is written, and the shape of a write transaction. `sqlite.py` and `postgres.py` run
them in their own way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Literal, TypeVar

from shopevents.errors import StorageUnavailable
from shopevents.storage.statements import Insert, Statement, statement

M = TypeVar("M")

Dialect = Literal["sqlite", "postgres"]

COMMIT = Statement("COMMIT")
ROLLBACK = Statement("ROLLBACK")


class Conn:
    """One connection, either backend, with the few verbs the repository needs."""

    dialect: Dialect
    keeps_wal = False
    """Whether the database has a write-ahead log file its one writer keeps short (SQLite)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.in_tx = False
        # Whether the open (or last) transaction's COMMIT was sent: a connection that breaks
        # after it leaves the transaction's outcome unknown.
        self.commit_sent = False
        # Rows appended in the open transaction, by INSERT statement (see `append`).
        self._rows: dict[Insert, list[Sequence[Any]]] = {}
        # Tables with appended rows not yet written, or (SQLite) with ids handed out in this
        # transaction: any other statement naming one of them writes its rows first.
        self._watched: set[str] = set()
        # Callbacks that append a table's composed rows before its queued rows are written.
        self._deferred: dict[str, list[Callable[[Conn], None]]] = {}
        # What the open transaction's code keeps for itself, one object per kind (`memo`).
        self._memos: dict[type[Any], Any] = {}

    # -- statements ------------------------------------------------------------------------

    def execute(self, sql: Statement | str, params: Sequence[Any] = ()) -> Any:
        stmt = sql if isinstance(sql, Statement) else statement(sql)
        if self._watched:
            self._before(stmt)
        return self._run(stmt, params)

    def scalar_written(self, sql: Statement | str, params: Sequence[Any] = ()) -> Any:
        """`scalar` over the rows already written, leaving rows appended in this transaction
        queued: for a caller that has looked through its own appended rows first."""
        row = self._run(statement(sql), params).fetchone()
        return None if row is None else row[0]

    def executemany(self, sql: Statement | str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        stmt = statement(sql)
        if self._watched:
            self._before(stmt)
        self._run_many(stmt, rows)

    def one(self, sql: Statement | str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: Statement | str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: Statement | str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def any_of(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column <text>` tests membership in `values` (an IN list); the parameters for it."""
        return f"IN ({', '.join('?' * len(values))})", list(values)

    def rows_by_key(
        self, table: str, key_column: str, columns: str, store_id: str, keys: Sequence[str]
    ) -> list[Any]:
        """`(key, *columns)` of the store's rows of `table` whose `key_column` is one of
        `keys`, in one statement."""
        raise NotImplementedError

    def insert_id(self, ins: Insert, params: Sequence[Any] = ()) -> int:
        """Run `INSERT INTO t (cols) VALUES (...)` and give the new row's id."""
        raise NotImplementedError

    def reserve_id(self, table: str) -> int:
        """An id for a row of `table` that this transaction appends later (with `append` and
        an explicit id column). Inserts through `insert_id` and `append_id` never take it."""
        raise NotImplementedError

    def _run(self, stmt: Statement, params: Sequence[Any]) -> Any:
        raise NotImplementedError

    def _run_many(self, stmt: Statement, rows: list[Sequence[Any]]) -> None:
        raise NotImplementedError

    # -- appended rows ---------------------------------------------------------------------

    def append(self, ins: Insert, params: Sequence[Any]) -> None:
        """Queue an INSERT for a table written but not read back in the transaction (events,
        activities, outbox...). The rows of one statement are written together, one
        `executemany` (SQLite) or multi-row INSERT (PostgreSQL), before COMMIT or before any
        other statement that names the table, so reads still see them. Outside a transaction
        the row is written at once."""
        if not self.in_tx:
            self.execute(ins, params)
            return
        rows = self._rows.get(ins)
        if rows is None:
            if ins.tail:
                raise ValueError(f"append takes an INSERT ... VALUES (...) alone: {ins!r}")
            rows = self._rows[ins] = []
            self._watched.add(ins.table)
        rows.append(params)

    def append_id(self, ins: Insert, params: Sequence[Any]) -> int:
        """`append` with the new row's id chosen now and given back."""
        if not self.in_tx:
            return self.insert_id(ins, params)
        new_id = self.reserve_id(ins.table)
        self.append(ins.with_id, (new_id, *params))
        return new_id

    def defer(self, table: str, compose: Callable[[Conn], None]) -> None:
        """Call `compose(conn)` once, in the open transaction, just before the queued rows of
        `table` are written (before COMMIT or before a statement that names `table`). It
        appends the rows the transaction has been composing for `table` (rows built from
        several calls, such as one timeline row per contact and instant). Outside a
        transaction it is called at once."""
        if not self.in_tx:
            compose(self)
            return
        self._deferred.setdefault(table, []).append(compose)
        self._watched.add(table)

    def _before(self, stmt: Statement) -> None:
        names = stmt.names
        hit = [t for t in self._watched if t in names]
        if hit:
            self.write_appended(hit)

    def write_appended(
        self, tables: Iterable[str] | None = None, *, keep_bulk: bool = False
    ) -> None:
        """Write the queued rows (of `tables`, or all) now; `keep_bulk`: leave queued the rows
        that COPY will write (PostgreSQL, see `transaction`)."""
        wanted = None if tables is None else set(tables)
        for table in [t for t in self._deferred if wanted is None or t in wanted]:
            for compose in self._deferred.pop(table):
                compose(self)
        for ins in list(self._rows):
            if wanted is not None and ins.table not in wanted:
                continue
            if keep_bulk and self._copies(ins, self._rows[ins]):
                continue
            self._write_rows(ins, self._rows.pop(ins))
        for table in list(self._watched):
            if wanted is None or table in wanted:
                self._watched.discard(table)
                self._written(table)

    def _written(self, table: str) -> None:
        """The queued rows of `table` were written."""

    def _copies(self, ins: Insert, rows: list[Sequence[Any]]) -> bool:
        """Whether these queued rows are written with COPY (PostgreSQL, many rows)."""
        return False

    def _write_rows(self, ins: Insert, rows: list[Sequence[Any]]) -> None:
        raise NotImplementedError

    # -- what the transaction knows ---------------------------------------------------------

    def memo(self, kind: type[M]) -> M:
        """The open transaction's memo of `kind`: made with `kind()` on first use in the
        transaction, gone when it ends (committed or rolled back). The code that applies a
        request keeps there what it looked up or wrote (the transaction's identity map), one
        class per concern, so that it asks the database once."""
        try:
            return self._memos[kind]  # type: ignore[no-any-return]
        except KeyError:
            found = self._memos[kind] = kind()
            return found

    def memo_if_any(self, kind: type[M]) -> M | None:
        """The open transaction's memo of `kind` if it has one (none is made)."""
        return self._memos.get(kind)

    def forget_memo(self, kind: type[M]) -> M | None:
        """Drop the memo of `kind` (what it knew no longer holds); give it, if there was one."""
        return self._memos.pop(kind, None)

    def _forget_appended(self) -> None:
        self._memos.clear()
        self._deferred.clear()
        self._rows.clear()
        self._watched.clear()

    # -- transactions ----------------------------------------------------------------------

    def _pipeline(self, pipelined: bool) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _unavailable(self, exc: Exception) -> None:
        """Raise StorageUnavailable if `exc` says the connection is broken."""

    @contextmanager
    def transaction(self, *, pipelined: bool = False) -> Iterator[Conn]:
        """One write transaction (BEGIN IMMEDIATE on SQLite: the writer lock is taken first).

        `pipelined` (PostgreSQL; ignored on SQLite): statements are sent without waiting for
        each answer (psycopg pipeline mode), and a read of a result waits only for what it
        needs. COPY cannot run in a pipeline: statements with at least `COPY_MIN_ROWS` queued
        rows are written with COPY after it, just before COMMIT; without any, COMMIT is sent
        in the pipeline too."""
        if self.in_tx:
            yield self
            return
        self._forget_appended()
        self.commit_sent = False
        committed = False
        try:
            with self._pipeline(pipelined):
                self._begin()
                self.in_tx = True
                yield self
                self.write_appended(keep_bulk=pipelined)
                if not self._rows:
                    self.in_tx = False
                    self.commit_sent = True
                    self.execute(COMMIT)
                    committed = True
            if not committed:
                self.write_appended()
        except BaseException as exc:
            self.in_tx = False
            self._forget_appended()
            try:
                self.execute(ROLLBACK)
            except Exception:
                pass
            if isinstance(exc, Exception) and not isinstance(exc, StorageUnavailable):
                self._unavailable(exc)  # a broken connection, seen when a pipeline ends
            raise
        if not committed:
            self.in_tx = False
            self.commit_sent = True
            self.execute(COMMIT)

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:
            pass
