"""Connections, transactions and migrations for SQLite and PostgreSQL.

SQL in this package is written with `?` placeholders; `Conn` turns them into `%s` for
PostgreSQL. Each backend owns its DDL (numbered migrations per backend) and its pragmas.
"""

from __future__ import annotations

import queue
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from shopevents.clock import monotonic
from shopevents.config import Settings
from shopevents.errors import StorageBusy, StorageUnavailable

Dialect = Literal["sqlite", "postgres"]


def parse_url(url: str) -> tuple[Dialect, str]:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    if url.startswith("sqlite:///"):
        return "sqlite", url[len("sqlite:///") :] or ":memory:"
    if url.startswith("sqlite://"):
        return "sqlite", url[len("sqlite://") :] or ":memory:"
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")


_PG_CACHE: dict[str, str] = {}
_INSERT = re.compile(r"^\s*INSERT INTO (\w+) \(")
_WITH_ID: dict[str, str] = {}
ID_BLOCK = 256
# A block of ids is used within this many seconds of being taken from the sequence, or
# dropped. Report rollups count on it: they treat ids older than ten minutes as final, which
# holds only if no process can still write a smaller id it took long ago.
ID_BLOCK_SECONDS = 60.0


def _with_id(sql: str) -> str:
    """The same INSERT with an explicit `id` first."""
    out = _WITH_ID.get(sql)
    if out is None:
        out = _INSERT.sub(lambda mt: f"INSERT INTO {mt.group(1)} (id, ", sql, count=1)
        out = out.replace("VALUES (", "VALUES (?, ", 1)
        _WITH_ID[sql] = out
    return out


_PLAIN_INSERT = re.compile(r"^\s*INSERT INTO (\w+) \(([^)]*)\) VALUES \(([^)]*)\)\s*$")
_TABLE_OF: dict[str, str] = {}
_NAMES: dict[str, frozenset[str]] = {}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _table_of(sql: str) -> str:
    out = _TABLE_OF.get(sql)
    if out is None:
        mt = _INSERT.match(sql)
        if mt is None:
            raise ValueError(f"not an INSERT INTO t (...) VALUES (...): {sql!r}")
        out = _TABLE_OF[sql] = mt.group(1)
    return out


_PLAIN: dict[str, tuple[str, list[str]] | None] = {}


def _plain_insert(sql: str) -> tuple[str, list[str]] | None:
    """(table, columns) of `INSERT INTO t (cols) VALUES (?, ...)`, or None when its VALUES
    hold anything but placeholders."""
    if sql in _PLAIN:
        return _PLAIN[sql]
    mt = _PLAIN_INSERT.match(sql)
    out = None
    if mt:
        cols = [c.strip() for c in mt.group(2).split(",")]
        marks = [v.strip() for v in mt.group(3).split(",")]
        if len(marks) == len(cols) and all(v == "?" for v in marks):
            out = (mt.group(1), cols)
    if len(_PLAIN) < 4096:
        _PLAIN[sql] = out
    return out


_VALUES: dict[tuple[str, int], str | None] = {}


def _values_sql(sql: str, n: int) -> str | None:
    """PostgreSQL: a plain INSERT (see `_plain_insert`) for `n` rows as one statement with
    server-side placeholders (`VALUES ($1, $2), ($3, $4)`, for a raw cursor: psycopg need not
    parse it), or None."""
    key = (sql, n)
    if key in _VALUES:
        return _VALUES[key]
    plain = _plain_insert(sql)
    text = None
    if plain:
        table, cols = plain
        w = len(cols)
        rows = ", ".join(
            "(" + ", ".join(f"${r * w + c + 1}" for c in range(w)) + ")" for r in range(n)
        )
        text = f"INSERT INTO {table} ({', '.join(cols)}) VALUES {rows}"
    if len(_VALUES) < 4096:
        _VALUES[key] = text
    return text


# PostgreSQL: the queued rows of one statement are written with COPY from this many on. COPY
# costs a third less CPU per row than a multi-row INSERT, client and server together, but
# cannot run in a pipeline, so it adds a few waits to its transaction.
COPY_MIN_ROWS = 100


def _copy_sql(sql: str) -> str | None:
    """PostgreSQL: `COPY t (cols) FROM STDIN` for a plain INSERT (see `_plain_insert`), or
    None."""
    plain = _plain_insert(sql)
    return f"COPY {plain[0]} ({', '.join(plain[1])}) FROM STDIN" if plain else None


def _names(sql: str) -> frozenset[str]:
    """Every word of a statement (a superset of the tables it names)."""
    out = _NAMES.get(sql)
    if out is None:
        out = frozenset(w.lower() for w in _WORD.findall(sql))
        if len(_NAMES) < 4096:
            _NAMES[sql] = out
    return out


def _pg_sql(sql: str) -> str:
    out = _PG_CACHE.get(sql)
    if out is None:
        out = sql.replace("%", "%%").replace("?", "%s")
        _PG_CACHE[sql] = out
    return out


class Conn:
    """One connection, either backend, with the few verbs the repository needs."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect = dialect
        self.in_tx = False
        # Whether the open (or last) transaction's COMMIT was sent: a connection that breaks
        # after it leaves the transaction's outcome unknown.
        self.commit_sent = False
        self._ids: dict[str, tuple[float, list[int]]] = {}  # table -> (taken at, ids)
        self.id_block_seconds = ID_BLOCK_SECONDS
        # Rows appended in the open transaction, by INSERT statement (see `append`).
        self._rows: dict[str, list[Sequence[Any]]] = {}
        # Tables with appended rows not yet written, or (SQLite) with ids handed out in this
        # transaction: any other statement naming one of them writes its rows first.
        self._watched: set[str] = set()
        self._last_ids: dict[str, int] = {}
        self._stale: set[str] = set()
        self._raw_cur: Any = None
        # Callbacks that append a table's composed rows before its queued rows are written.
        self._deferred: dict[str, list[Callable[[Conn], None]]] = {}
        # What the open transaction's code keeps for itself; emptied when a transaction starts.
        self.tx_memo: dict[str, Any] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self._watched:
            self._before(sql)
        return self._run(sql, params)

    def scalar_written(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """`scalar` over the rows already written, leaving rows appended in this transaction
        queued: for a caller that has looked through its own appended rows first."""
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        try:
            if self.dialect == "postgres":
                return self.raw.execute(_pg_sql(sql), params)
            return self.raw.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "unable to open" in str(exc) or "disk" in str(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise
        except Exception as exc:
            _raise_if_unavailable(exc)
            raise

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self._watched:
            self._before(sql)
        if self.dialect == "postgres":
            with self.raw.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)
        else:
            self.raw.executemany(sql, rows)

    def any_of(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column <text>` tests membership in `values` (an IN list); the parameters for it."""
        return f"IN ({', '.join('?' * len(values))})", list(values)

    def rows_by_key(
        self, table: str, key_column: str, columns: str, store_id: str, keys: Sequence[str]
    ) -> list[Any]:
        """`(key, *columns)` of the store's rows of `table` whose `key_column` is one of
        `keys`, in one statement. On PostgreSQL one index look-up per key, whatever the
        statistics (without them, `= ANY(...)` can be planned as a scan of the store)."""
        if self.dialect == "postgres":
            picked = ", ".join(f"x.{c.strip()}" for c in columns.split(","))
            return self.all(
                f"SELECT k.v, {picked} FROM unnest(?::text[]) AS k(v) CROSS JOIN LATERAL ("
                f"SELECT {columns} FROM {table} WHERE store_id = ? AND {key_column} = k.v "
                "OFFSET 0) x",
                (list(keys), store_id),
            )
        test, params = self.any_of(keys)
        return self.all(
            f"SELECT {key_column}, {columns} FROM {table} WHERE store_id = ? AND {key_column} {test}",
            (store_id, *params),
        )

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def insert_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run `INSERT INTO t (cols) VALUES (...)` and give the new row's id.

        SQLite answers through RETURNING. On PostgreSQL the id is taken from a block of the
        table's sequence numbers fetched ahead, so the INSERT needs no answer and pipelines
        with the rest of the transaction."""
        table = _table_of(sql)
        if self.dialect != "postgres":
            if table not in self._last_ids:
                return int(self.execute(sql + " RETURNING id", params).fetchone()[0])
            new_id = self.reserve_id(table)  # ids of this table are being handed out
            self.execute(_with_id(sql), (new_id, *params))
            return new_id
        new_id = self._next_id(table)
        self.execute(_with_id(sql), (new_id, *params))
        return new_id

    # -- appended rows ---------------------------------------------------------------------

    def append(self, sql: str, params: Sequence[Any]) -> None:
        """Queue `INSERT INTO t (cols) VALUES (...)` for a table written but not read back in
        the transaction (events, activities, outbox...). The rows of one statement are written
        together, one `executemany` (SQLite) or multi-row INSERT (PostgreSQL), before COMMIT or
        before any other statement that names the table, so reads still see them. Outside a
        transaction the row is written at once."""
        if not self.in_tx:
            self.execute(sql, params)
            return
        rows = self._rows.get(sql)
        if rows is None:
            if not sql.rstrip().endswith(")"):
                raise ValueError(f"append takes a plain INSERT ... VALUES (...): {sql!r}")
            rows = self._rows[sql] = []
            self._watched.add(_table_of(sql))
        rows.append(params)

    def append_id(self, sql: str, params: Sequence[Any]) -> int:
        """`append` with the new row's id chosen now and given back."""
        if not self.in_tx:
            return self.insert_id(sql, params)
        new_id = self.reserve_id(_table_of(sql))
        self.append(_with_id(sql), (new_id, *params))
        return new_id

    def reserve_id(self, table: str) -> int:
        """An id for a row of `table` that this transaction appends later (with `append` and
        an explicit id column). Inserts through `insert_id` and `append_id` never take it."""
        if self.dialect == "postgres":
            return self._next_id(table)
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

    def _before(self, sql: str) -> None:
        names = _names(sql)
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
        for sql in list(self._rows):
            table = _table_of(sql)
            if wanted is not None and table not in wanted:
                continue
            if keep_bulk and self._copies(sql, self._rows[sql]):
                continue
            rows = self._rows.pop(sql)
            self._write_rows(sql, rows)
        for table in list(self._watched):
            if wanted is None or table in wanted:
                self._watched.discard(table)
                if table in self._last_ids:
                    self._stale.add(table)

    def _copies(self, sql: str, rows: list[Sequence[Any]]) -> bool:
        """Whether these queued rows are written with COPY (PostgreSQL, many rows)."""
        return (
            self.dialect == "postgres" and len(rows) >= COPY_MIN_ROWS and _copy_sql(sql) is not None
        )

    def _pipelined(self) -> bool:
        return bool(self.raw.pgconn.pipeline_status)  # psycopg.pq.PipelineStatus.OFF is 0

    def _write_rows(self, sql: str, rows: list[Sequence[Any]]) -> None:
        try:
            if self.dialect == "sqlite":
                self.raw.executemany(sql, rows)
                return
            if self._copies(sql, rows) and not self._pipelined():
                with self.raw.cursor() as cur, cur.copy(_copy_sql(sql)) as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            if len(rows) == 1:
                self.raw.execute(_pg_sql(sql), rows[0])
                return
            width = len(rows[0])
            step = max(1, 30_000 // width)
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                text = _values_sql(sql, len(chunk))
                if text is None:
                    with self.raw.cursor() as cur:
                        cur.executemany(_pg_sql(sql), chunk)
                    continue
                self._raw_cursor().execute(text, [p for row in chunk for p in row])
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "unable to open" in str(exc) or "disk" in str(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise
        except Exception as exc:
            _raise_if_unavailable(exc)
            raise

    def _raw_cursor(self) -> Any:
        if self._raw_cur is None:
            import psycopg

            self._raw_cur = psycopg.RawCursor(self.raw)
        return self._raw_cur

    def _forget_appended(self) -> None:
        self.tx_memo.clear()
        self._deferred.clear()
        self._rows.clear()
        self._watched.clear()
        self._last_ids.clear()
        self._stale.clear()

    def _next_id(self, table: str) -> int:
        entry = self._ids.get(table)
        now = monotonic()
        if entry is None or not entry[1] or now - entry[0] > self.id_block_seconds:
            rows = self.raw.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                (table, ID_BLOCK),
            ).fetchall()
            entry = self._ids[table] = (now, [int(r[0]) for r in reversed(rows)])
        return entry[1].pop()

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
        pipe: AbstractContextManager[Any] = (
            self.raw.pipeline() if pipelined and self.dialect == "postgres" else nullcontext()
        )
        committed = False
        try:
            with pipe:
                if self.dialect == "sqlite":
                    try:
                        self.execute("BEGIN IMMEDIATE")
                    except StorageUnavailable as exc:
                        if "locked" in str(exc) or "busy" in str(exc):
                            raise StorageBusy(str(exc)) from exc
                        raise
                else:
                    self.execute("BEGIN")
                self.in_tx = True
                yield self
                self.write_appended(keep_bulk=pipelined)
                if not self._rows:
                    self.in_tx = False
                    self.commit_sent = True
                    self.execute("COMMIT")
                    committed = True
            if not committed:
                self.write_appended()
        except BaseException as exc:
            self.in_tx = False
            self._forget_appended()
            try:
                self.execute("ROLLBACK")
            except Exception:
                pass
            if isinstance(exc, Exception) and not isinstance(exc, StorageUnavailable):
                _raise_if_unavailable(exc)  # a broken connection, seen when a pipeline ends
            raise
        if not committed:
            self.in_tx = False
            self.commit_sent = True
            self.execute("COMMIT")

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:
            pass


def _raise_if_unavailable(exc: Exception) -> None:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        raise StorageUnavailable(str(exc)) from exc


def probe_write(conn: Conn, now: int) -> None:
    """A write that leaves nothing behind, to learn whether the database takes writes."""
    conn.execute("INSERT INTO commit_marks (at, token) VALUES (?, 'probe')", (now,))
    conn.execute("DELETE FROM commit_marks WHERE at = ? AND token = 'probe'", (now,))


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

    # -- connections --------------------------------------------------------------------

    def pg_options(self) -> dict[str, Any]:
        """libpq options for every PostgreSQL connection: a bounded connect, statement and
        lock timeouts on the server, and TCP keepalives and a user timeout on the socket, so
        a server that stops answering (partitioned, or its host gone) is noticed in seconds
        instead of when the kernel gives up (minutes)."""
        return {
            "autocommit": True,
            "connect_timeout": self.connect_timeout,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 10_000,
            "options": f"-c statement_timeout={self.statement_timeout_ms}"
            f" -c lock_timeout={self.lock_timeout_ms}"
            " -c idle_in_transaction_session_timeout=60000",
        }

    def connect(self, *, busy_timeout_ms: int | None = None) -> Conn:
        """A new connection. `busy_timeout_ms` (SQLite): how long it waits for the write lock,
        instead of `self.busy_timeout_ms`."""
        if self.dialect == "postgres":
            import psycopg

            try:
                pg = psycopg.connect(self.target, **self.pg_options())
            except psycopg.OperationalError as exc:
                raise StorageUnavailable(str(exc)) from exc
            return Conn(pg, "postgres")
        if self.target != ":memory:":
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        try:
            raw = sqlite3.connect(
                self.target,
                isolation_level=None,
                check_same_thread=False,
                timeout=self.busy_timeout_ms / 1000,
            )
            raw.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute(f"PRAGMA synchronous={self.synchronous}")
            if busy_timeout_ms is not None:
                raw.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA cache_size=-16384")
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc
        return Conn(raw, "sqlite")

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
        folder = resources.files("shopevents.storage") / "migrations" / self.dialect
        out = []
        for entry in folder.iterdir():
            mt = re.match(r"^(\d+)_.*\.sql$", entry.name)
            if mt:
                out.append((int(mt.group(1)), entry.name, entry.read_text()))
        return sorted(out)

    def applied(self, conn: Conn) -> set[int]:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        return {int(r[0]) for r in conn.all("SELECT version FROM schema_migrations")}

    def migrate(self, up_to: int | None = None) -> list[str]:
        """Apply every migration not yet applied (numbered up to `up_to`, if given), each in
        its own transaction."""
        conn = self.connect()
        done: list[str] = []
        try:
            if self.dialect == "postgres":
                conn.execute("SELECT pg_advisory_lock(7212001)")
            applied = self.applied(conn)
            for version, name, sql in self.migrations():
                if version in applied or (up_to is not None and version > up_to):
                    continue
                with conn.transaction():
                    for statement in _statements(sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
                        (version, name),
                    )
                done.append(name)
        finally:
            conn.close()
        return done

    def pending_migrations(self) -> list[str]:
        conn = self.connect()
        try:
            applied = self.applied(conn)
        finally:
            conn.close()
        return [name for version, name, _ in self.migrations() if version not in applied]


class Checkpointer:
    """Moves SQLite's WAL checkpoints (and their fsyncs) off the writer: the writer connection
    turns automatic checkpoints off and this thread runs a PASSIVE checkpoint every
    `interval` seconds, or at once when woken, on its own connection (a TRUNCATE one when it
    stops). `passes` counts the checkpoints it has finished."""

    def __init__(self, db: Database, interval: float = 0.5) -> None:
        self.db = db
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
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:
                if conn is not None:
                    conn.close()
                conn = None
            self.passes += 1
        try:
            conn = conn or self.db.connect()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:
            pass
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)


def _statements(sql: str) -> list[str]:
    text = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]
