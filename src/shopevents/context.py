"""What the HTTP surfaces share: settings, database, clock, the group committer, the intake
service, a store cache."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from shopevents.clock import Clock, monotonic, to_micros
from shopevents.config import Settings
from shopevents.domain.catalog import RecentWrites
from shopevents.errors import StorageUnavailable
from shopevents.ingest import intake
from shopevents.ingest.committer import GroupCommitter, WarmUp
from shopevents.storage import health, stores
from shopevents.storage.database import Conn, Database
from shopevents.storage.stores import StoreRecord

T = TypeVar("T")

DEMO_STORE_NAME = "Demo store"
# Threads for reads (REST, dashboard, reports, store look-ups). A frozen database can hold
# them all; reads then wait in the queue and get `503` at their deadline.
READER_THREADS = 16
# A store look-up on the ingest path waits at most this long (a known store is then served
# from the cache).
STORE_LOOKUP_SECONDS = 2.0
# A store's cache entry is looked up again once it is this old: a store created or changed
# by another process on the same database (`shopevents stores create`, another collector) is
# served within about this long.
STORE_CACHE_SECONDS = 1.0


class IntakeService(Protocol):
    """Where a decoded and judged request goes (the ingest endpoint's one way to store it),
    and what it answers: the answer as a value and as the JSON bytes sent. Two drivers: the
    embedded one (the group committer applies it now) and cluster mode's collector
    (`cluster/collector.py`: publish to JetStream, a processor applies it)."""

    applies: bool
    """Whether `submit` applies the request in this process, so that `intake.prepare` also
    reads what only applying needs (the page's URL, title and visit columns)."""

    async def submit(self, prepared: intake.Prepared, weight: int) -> tuple[dict[str, Any], bytes]:
        """`weight`: the events the request writes. Raises StorageUnavailable (answered
        `503` with `Retry-After`) when the request could not be kept."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def backlog(self) -> dict[int, tuple[int, int | None]] | None:
        """Cluster mode: per partition of the stream, the requests not applied yet and the
        receive time (µs) of the oldest; None for the embedded mode."""
        ...


class EmbeddedIntake:
    """The request applied in this process, in the group committer's shared transaction."""

    applies = True

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def submit(self, prepared: intake.Prepared, weight: int) -> tuple[dict[str, Any], bytes]:
        recent = self.ctx.recent_products
        return await self.ctx.write(
            lambda conn, t: intake.apply_encoded(conn, prepared, t, recent),
            (intake.warm, prepared),
            weight=weight,
        )

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def backlog(self) -> dict[int, tuple[int, int | None]] | None:
        return None


class AppContext:
    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.committer = GroupCommitter(
            db,
            clock,
            max_batch=settings.ingest.group_commit_max_batch,
            max_wait_ms=settings.ingest.group_commit_max_wait_ms,
            wal_reset_bytes=settings.storage.sqlite_wal_reset_mb << 20,
            threaded=health.writer_threaded(settings.ingest.group_commit_thread, db),
            write_timeout=settings.storage.write_timeout_seconds,
            commit_timeout=settings.storage.commit_timeout_seconds,
            max_events=settings.ingest.group_commit_max_events,
        )
        self.recent_products = RecentWrites()
        self.committer.on_rollback.append(self.recent_products.forget)
        self.intake: IntakeService = EmbeddedIntake(self)
        self._stores: dict[str, tuple[float, StoreRecord | None]] = {}
        self.api_keys = stores.ApiKeyCheck(self.read)
        self.metrics: Counter[tuple[str, str]] = Counter()
        self._readers: ThreadPoolExecutor | None = None
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def now_us(self) -> int:
        return to_micros(self.clock.now())

    # -- reads --------------------------------------------------------------------------

    def read_sync(self, fn: Callable[[Conn], T]) -> T:
        with self.db.reader() as conn:
            return fn(conn)

    async def read(self, fn: Callable[[Conn], T], timeout: float | None = None) -> T:
        """Run a read on a pooled connection in a reader thread. If the database has not
        answered within `timeout` (`storage.read_timeout_seconds`), `StorageUnavailable`: the
        caller answers `503` while the thread waits on (a frozen or partitioned database)."""
        if self._readers is None:
            self._readers = ThreadPoolExecutor(
                READER_THREADS, thread_name_prefix="shopevents-reader"
            )
        limit = self.settings.storage.read_timeout_seconds if timeout is None else timeout
        running = asyncio.get_running_loop().run_in_executor(self._readers, self.read_sync, fn)
        try:
            return await asyncio.wait_for(running, limit)
        except TimeoutError:
            raise StorageUnavailable(
                f"the database did not answer a read within {limit:g} s"
            ) from None

    def write_now(self, fn: Callable[[Conn, int], T]) -> T:
        """`fn(conn, now)` in a transaction of its own on a connection of its own, outside the
        group committer and any event loop (a command of the command line)."""
        conn = self.db.connect()
        try:
            with conn.transaction():
                return fn(conn, self.now_us())
        finally:
            conn.close()

    async def write(
        self,
        fn: Callable[[Conn, int], T],
        warm: tuple[WarmUp, Any] | None = None,
        weight: int = 1,
    ) -> T:
        """Run a write through the group committer (shares the ingest transaction); `warm`
        and `weight` (the events it writes): see `GroupCommitter.submit`."""
        return await self.committer.submit(fn, warm, weight)  # type: ignore[no-any-return]

    # -- stores -------------------------------------------------------------------------

    async def get_store(
        self, store_id: str, max_age: float = STORE_CACHE_SECONDS
    ) -> StoreRecord | None:
        """The store, from a cache refreshed every `max_age` seconds. A store not in the cache
        is looked up in a reader thread with a short deadline (`StorageUnavailable` if the
        database does not answer); so is an id found unknown more than `max_age` ago (a store
        created since is served at once). A known store whose entry is older than `max_age` is
        served from it while a look-up in the background refreshes it, so a database that
        stops answering never delays a request for a known store (its settings are then as
        old as the outage)."""
        hit = self._stores.get(store_id)
        now = monotonic()
        if hit is not None and hit[1] is None and now - hit[0] >= max_age:
            hit = None  # unknown a while ago: it may exist now
        if hit is not None:
            if now - hit[0] >= max_age and store_id not in self._refreshing:
                self._refreshing.add(store_id)
                task = asyncio.get_running_loop().create_task(self._refresh_store(store_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return hit[1]
        if len(store_id) > 64 or "\x00" in store_id:
            return None
        return await self._load_store(store_id)

    async def _load_store(self, store_id: str) -> StoreRecord | None:
        rec = await self.read(
            lambda c: stores.get_store(c, store_id),
            timeout=min(STORE_LOOKUP_SECONDS, self.settings.storage.read_timeout_seconds),
        )
        if len(self._stores) > 10_000:
            self._stores.clear()
        self._stores[store_id] = (monotonic(), rec)
        return rec

    async def _refresh_store(self, store_id: str) -> None:
        try:
            await self._load_store(store_id)
        except StorageUnavailable:
            pass  # the cached entry stays; the next request tries again
        finally:
            self._refreshing.discard(store_id)

    def forget_store(self, store_id: str) -> None:
        self._stores.pop(store_id, None)

    async def demo_store_id(self) -> str | None:
        rec = await self.read(lambda c: stores.find_store_by_name(c, DEMO_STORE_NAME))
        return rec.id if rec else None

    def count(self, name: str, label: str = "") -> None:
        self.metrics[(name, label)] += 1

    def close(self) -> None:
        self.committer.close()
        if self._readers is not None:
            self._readers.shutdown(wait=False, cancel_futures=True)
            self._readers = None
        self.db.close()
