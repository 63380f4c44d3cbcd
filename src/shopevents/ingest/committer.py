"""Group commit on the event loop: writes waiting in the same loop turn share one
transaction, then each is answered. One writer connection, used only from the loop thread.

A write is a function `(conn, now) -> result`. If a batch fails, it is rolled back and each
write is retried alone, so a fault in one costs only that one.

A write may come with a warm-up `(function, hint)`: before the writes of a batch run, each
distinct function is called once with the hints of its writes, to look up in a few round
trips what the writes will read (their transaction-scoped memo then answers them).

With `threaded=True` (PostgreSQL by default) the batches run on one writer thread instead:
while the database works on a batch (psycopg releases the GIL while it waits), the loop
goes on reading, decoding and answering requests, and those arriving meanwhile make the next
batch. One batch is in flight at a time and the connection is used from that thread only.

Every write has deadlines: a write still queued `write_timeout` seconds after it came is
withdrawn and fails with `StorageUnavailable` (it never ran); a write whose transaction the
database is still working on `commit_timeout` seconds after it came fails with
`OutcomeUnknown`, and what became of it is logged and counted when the database answers. A
transaction takes at most `max_batch` writes and `max_events` events, so that none runs long. On SQLite without the writer thread, a write lock held by another
connection never blocks the loop: the batch goes back to the queue and is tried again a few
milliseconds later. On PostgreSQL each batch writes a mark (`commit_marks`) in its
transaction; when the connection breaks after COMMIT was sent, the writer reconnects and
looks the mark up, so a batch that was committed is answered as committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from shopevents.clock import Clock, monotonic, to_micros
from shopevents.errors import OutcomeUnknown, StorageBusy, StorageUnavailable
from shopevents.storage import commit_marks, sqlite
from shopevents.storage.database import Checkpointer, Conn, Database

log = logging.getLogger("shopevents.committer")

T = TypeVar("T")
Write = Callable[[Conn, int], Any]
WarmUp = Callable[[Conn, list[Any]], None]
# (write, its future, its warm-up, when it was submitted (monotonic), its weight in events)
Pending = tuple[Write, "asyncio.Future[Any]", "tuple[WarmUp, Any] | None", float, int]
Outcome = tuple[bool, Any]  # (True, result) or (False, exception)

# SQLite on the loop: how long the writer waits for the write lock before it puts the batch
# back (the loop is blocked meanwhile), and the pause before the next try.
LOOP_BUSY_TIMEOUT_MS = 20
BUSY_RETRY_SECONDS = 0.02
# How often the deadlines are checked while writes wait or run.
WATCH_SECONDS = 0.1
# PostgreSQL: commit marks are kept this long (an in-doubt batch is resolved within seconds),
# and pruned at most this often.
MARK_KEEP_US = 15 * 60 * 1_000_000
MARK_PRUNE_US = 60 * 1_000_000


class _Busy(Exception):
    """The batch did not start: SQLite's write lock is held by another connection."""


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        max_batch: int = 256,
        max_events: int = 1000,
        max_wait_ms: float = 0.0,
        background_checkpoints: bool = False,
        wal_reset_bytes: int = 32 << 20,
        threaded: bool = False,
        write_timeout: float = 1.5,
        commit_timeout: float = 4.0,
    ) -> None:
        self.db = db
        self.threaded = threaded
        self.write_timeout = write_timeout
        self.commit_timeout = max(commit_timeout, write_timeout)
        # Whether the last batch could be written (False after storage failed it).
        self.healthy = True
        # Writes answered `OutcomeUnknown`, by what the database later said of them.
        self.in_doubt: dict[str, int] = {"committed": 0, "rolled_back": 0}
        self._inflight: list[Pending] = []
        self._watching = False
        self._busy_retry = False
        self._marks_pruned = 0
        self._writer: ThreadPoolExecutor | None = None
        self._busy = False
        self.background_checkpoints = background_checkpoints
        self.wal_reset_bytes = wal_reset_bytes
        self._wal_checked = 0
        # The background checkpointer (SQLite, in `serve`), and the number of its passes when
        # the writer last asked it for one before checkpointing the log's tail.
        self.checkpointer: Checkpointer | None = None
        self._tail_after: int | None = None
        self.clock = clock
        self.max_batch = max_batch
        self.max_events = max(1, max_events)
        self._queued_events = 0
        self.max_wait = max_wait_ms / 1000
        self._conn: Conn | None = None
        self.on_rollback: list[Callable[[], None]] = []
        self._pending: list[Pending] = []
        self._scheduled = False
        self.batches = 0
        self.writes = 0

    def _connection(self) -> Conn:
        if self._conn is None:
            on_loop = self.db.one_writer and not self.threaded
            self._conn = self.db.connect(busy_timeout_ms=LOOP_BUSY_TIMEOUT_MS if on_loop else None)
            if self.background_checkpoints and self._conn.keeps_wal:
                # A restarted log is cut back to a quarter of the limit (see `_keep_wal_short`).
                sqlite.hold_checkpoints(self._conn, self.wal_reset_bytes // 4)
        return self._conn

    def _rolled_back(self) -> None:
        """After any failed transaction: forget caches and start from a fresh connection (a
        pipelined PostgreSQL connection may hold an aborted transaction)."""
        for hook in self.on_rollback:
            hook()
        self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def submit(
        self, write: Write, warm: tuple[WarmUp, Any] | None = None, weight: int = 1
    ) -> Any:
        """Run `write` in the next transaction and give its result. `weight`: how many events
        it writes; a transaction takes writes up to `max_batch` of them or `max_events`
        events (a heavier write has one of its own), so that none runs long."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((write, fut, warm, monotonic(), weight))
        self._queued_events += weight
        if not self._watching:
            self._watching = True
            loop.call_later(WATCH_SECONDS, self._watch)
        if len(self._pending) >= self.max_batch or self._queued_events >= self.max_events:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            if self.max_wait > 0:
                loop.call_later(self.max_wait, self._flush)
            else:
                loop.call_soon(self._flush)
        return await fut

    def _watch(self) -> None:
        """Fail the writes past their deadline: those still queued are withdrawn (they never
        ran), those in the batch the database is working on are in doubt."""
        loop = asyncio.get_running_loop()
        now = monotonic()
        oldest = now - self.write_timeout
        oldest_running = now - self.commit_timeout
        if self._pending and self._pending[0][3] <= oldest:
            self.healthy = False
            keep = []
            for entry in self._pending:
                if entry[3] > oldest:
                    keep.append(entry)
                elif not entry[1].done():
                    entry[1].set_exception(
                        StorageUnavailable(
                            f"the database did not take the write within {self.write_timeout:g} s"
                        )
                    )
            self._pending = keep
            self._queued_events = sum(p[4] for p in keep)
        for _, fut, _, at, _ in self._inflight:
            if at <= oldest_running and not fut.done():
                fut.set_exception(
                    OutcomeUnknown(
                        f"the database did not finish the write within {self.commit_timeout:g} s"
                    )
                )
        if self._pending or self._inflight:
            loop.call_later(WATCH_SECONDS, self._watch)
        else:
            self._watching = False

    def run_now(self, write: Write) -> Any:
        """Run one write in its own transaction, synchronously (CLI, worker, tests); in
        threaded mode on the writer thread, after the batch in flight."""
        if self._writer is not None:
            return self._writer.submit(self._run_alone, write).result()
        return self._run_alone(write)

    def _run_alone(self, write: Write) -> Any:
        conn = self._connection()
        try:
            with conn.transaction():
                return write(conn, to_micros(self.clock.now()))
        except StorageUnavailable:
            self._rolled_back()
            self._drop_connection()
            raise
        except Exception:
            self._rolled_back()
            raise

    def _flush(self) -> None:
        self._scheduled = False
        if self._busy or self._busy_retry:
            return  # the batch in flight (or the retry after a busy lock) starts the next one
        taken = events = 0
        for entry in self._pending[: self.max_batch]:
            if taken and events + entry[4] > self.max_events:
                break
            taken += 1
            events += entry[4]
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        if not batch:
            return
        self._queued_events -= events
        now = to_micros(self.clock.now())
        if not self.threaded:
            try:
                outcomes = self._execute(batch, now)
            except _Busy:
                self._pending[:0] = batch  # not started: back to the front of the queue
                self._queued_events += events
                self._busy_retry = True
                asyncio.get_running_loop().call_later(BUSY_RETRY_SECONDS, self._retry_busy)
                return
            self.batches += 1
            self.writes += len(batch)
            self._settle(batch, outcomes)
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="shopevents-writer")
        self.batches += 1
        self.writes += len(batch)
        self._busy = True
        self._inflight = batch
        running = asyncio.get_running_loop().run_in_executor(
            self._writer, self._execute, batch, now
        )
        running.add_done_callback(lambda done: self._finished(batch, done))

    def _retry_busy(self) -> None:
        self._busy_retry = False
        self._pending = [p for p in self._pending if not p[1].done()]
        self._queued_events = sum(p[4] for p in self._pending)
        self._flush()

    def _finished(self, batch: list[Pending], done: asyncio.Future[list[Outcome]]) -> None:
        self._busy = False
        self._inflight = []
        try:
            outcomes = done.result()
        except BaseException as exc:  # the thread itself failed (shutdown)
            reason = str(exc) or type(exc).__name__
            outcomes = [(False, StorageUnavailable(reason)) for _ in batch]
        self._settle(batch, outcomes)
        if self._pending and not self._scheduled:  # they waited for this batch: no more wait
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _settle(self, batch: list[Pending], outcomes: list[Outcome]) -> None:
        for (_, fut, _, _, _), (ok, value) in zip(batch, outcomes, strict=True):
            if fut.cancelled():
                continue
            if fut.done():
                if isinstance(fut.exception(), OutcomeUnknown):
                    verdict = "committed" if ok else "rolled_back"
                    self.in_doubt[verdict] += 1
                    log.warning("a write answered outcome_unknown was then %s", verdict)
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def _execute(self, batch: list[Pending], now: int) -> list[Outcome]:
        """Run a batch in one transaction; each write's outcome (no future is touched: this
        may run on the writer thread)."""
        warm_ups: dict[WarmUp, list[Any]] = {}
        for _, _, warm, _, _ in batch:
            if warm is not None:
                warm_ups.setdefault(warm[0], []).append(warm[1])
        mark: tuple[int, str] | None = None
        results: list[Any] = []
        conn: Conn | None = None
        try:
            conn = self._connection()
            with conn.transaction(pipelined=True):
                for warm_up, hints in warm_ups.items():
                    warm_up(conn, hints)
                for write, _, _, _, _ in batch:
                    results.append(write(conn, now))
                mark = commit_marks.add(conn, now)
                if mark is not None and now - self._marks_pruned > MARK_PRUNE_US:
                    self._marks_pruned = now
                    commit_marks.prune(conn, now - MARK_KEEP_US)
        except StorageBusy:
            if not self.threaded:
                self._drop_connection()
                raise _Busy() from None
            self.healthy = False
            self._rolled_back()
            return [(False, StorageUnavailable("the database is locked")) for _ in batch]
        except StorageUnavailable as exc:
            self._rolled_back()
            self._drop_connection()
            if mark is not None and conn is not None and conn.commit_sent:
                committed = self._was_committed(mark)
                if committed:
                    self.healthy = True
                    return [(True, r) for r in results]
                if committed is None:
                    self.healthy = False
                    return [(False, OutcomeUnknown(str(exc))) for _ in batch]
            self.healthy = False
            return [(False, StorageUnavailable(str(exc))) for _ in batch]
        except Exception:
            self._rolled_back()
            if len(batch) == 1 and not warm_ups:
                log.exception("write failed")
                return [(False, RuntimeError("write failed"))]
            # Each write again in its own transaction, without the warm-up's look-ups (what
            # they found may have changed since: another process may have written the same
            # purchase or request key).
            return self._retry_alone(batch, now)
        self.healthy = True
        if self.background_checkpoints:
            self._keep_wal_short(conn)
        return [(True, r) for r in results]

    def _was_committed(self, mark: tuple[int, str]) -> bool | None:
        """After the connection broke with COMMIT sent: whether the batch's mark is in the
        database, asking again on new connections until the write deadline; None if the
        database did not answer by then."""
        give_up = monotonic() + self.write_timeout
        while True:
            try:
                conn = self.db.connect()
                try:
                    return commit_marks.found(conn, mark)
                finally:
                    conn.close()
            except StorageUnavailable:
                if monotonic() >= give_up:
                    return None
                time.sleep(0.2)

    def _keep_wal_short(self, conn: Conn) -> None:
        """SQLite starts its log again from the beginning only when a writer finds every frame
        checkpointed; under steady writes the background checkpoints never quite catch up, and
        a log that keeps growing makes every page look-up slower. Past the limit, the writer
        checkpoints the remaining tail itself (a PASSIVE checkpoint: it never waits).

        That tail is copied (and the database file synced) on the writer, so it is kept small:
        with a background `checkpointer`, the writer first wakes it and checkpoints only once
        a background pass has finished since, leaving itself the frames of the last batch or
        two instead of up to an interval's worth (20–50 ms of the event loop at 5,000
        page-visits/s)."""
        if not conn.keeps_wal:
            return
        cp = self.checkpointer
        if self._tail_after is not None and cp is not None:
            self._wal_checked += 1
            if cp.passes <= self._tail_after and self._wal_checked < 256:
                return  # the background pass is still running (256 batches: it is stuck)
            self._tail_after = None
            self._wal_checked = 0
            self._checkpoint_tail(conn)
            return
        self._wal_checked += 1
        if self._wal_checked < 16:
            return
        self._wal_checked = 0
        size = sqlite.wal_bytes(self.db.target)
        if size is None or size <= self.wal_reset_bytes:
            return
        if cp is None:
            self._checkpoint_tail(conn)
        else:
            self._tail_after = cp.passes
            self._wal_checked = 0
            cp.wake()

    @staticmethod
    def _checkpoint_tail(conn: Conn) -> None:
        try:
            sqlite.checkpoint_passive(conn)
        except Exception:
            log.warning("checkpoint failed", exc_info=True)

    def _retry_alone(self, batch: list[Pending], now: int) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for write, _, _, _, _ in batch:
            try:
                conn = self._connection()
                with conn.transaction():
                    result = write(conn, now)
            except StorageUnavailable as exc:
                sent = self._conn is not None and self._conn.commit_sent
                self._rolled_back()
                self._drop_connection()
                kind = OutcomeUnknown if sent else StorageUnavailable
                outcomes.append((False, kind(str(exc))))
            except Exception as exc:
                self._rolled_back()
                log.exception("write failed")
                outcomes.append((False, exc))
            else:
                outcomes.append((True, result))
        return outcomes

    def close(self) -> None:
        if self._writer is not None:
            self._writer.submit(self._drop_connection).result()
            self._writer.shutdown(wait=True)
            self._writer = None
        self._drop_connection()
