"""What the HTTP surfaces share: settings, database, clock, the group committer, a store cache."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from shopevents.clock import Clock, to_micros
from shopevents.config import Settings
from shopevents.domain.catalog import RecentWrites
from shopevents.ingest.committer import GroupCommitter, WarmUp
from shopevents.storage import stores
from shopevents.storage.database import Conn, Database
from shopevents.storage.stores import StoreRecord

T = TypeVar("T")

DEMO_STORE_NAME = "Demo store"


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
            threaded=_threaded(settings.ingest.group_commit_thread, db.dialect),
        )
        self.recent_products = RecentWrites()
        self.committer.on_rollback.append(self.recent_products.forget)
        self._stores: dict[str, tuple[float, StoreRecord | None]] = {}
        self.metrics: Counter[tuple[str, str]] = Counter()
        self.started = time.time()

    def now_us(self) -> int:
        return to_micros(self.clock.now())

    # -- reads --------------------------------------------------------------------------

    def read_sync(self, fn: Callable[[Conn], T]) -> T:
        with self.db.reader() as conn:
            return fn(conn)

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """Run a read on a pooled connection in a worker thread."""
        return await run_in_threadpool(self.read_sync, fn)

    async def write(
        self,
        fn: Callable[[Conn, int], T],
        warm: tuple[WarmUp, Any] | None = None,
    ) -> T:
        """Run a write through the group committer (shares the ingest transaction); `warm`:
        see `GroupCommitter.submit`."""
        return await self.committer.submit(fn, warm)  # type: ignore[no-any-return]

    # -- stores -------------------------------------------------------------------------

    def get_store(self, store_id: str, max_age: float = 2.0) -> StoreRecord | None:
        hit = self._stores.get(store_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < max_age:
            return hit[1]
        if len(store_id) > 64 or "\x00" in store_id:
            return None
        rec = self.read_sync(lambda c: stores.get_store(c, store_id))
        if len(self._stores) > 10_000:
            self._stores.clear()
        self._stores[store_id] = (now, rec)
        return rec

    def forget_store(self, store_id: str) -> None:
        self._stores.pop(store_id, None)

    def demo_store_id(self) -> str | None:
        rec = self.read_sync(lambda c: stores.find_store_by_name(c, DEMO_STORE_NAME))
        return rec.id if rec else None

    def count(self, name: str, label: str = "") -> None:
        self.metrics[(name, label)] += 1

    def close(self) -> None:
        self.committer.close()
        self.db.close()


def _threaded(choice: str, dialect: str) -> bool:
    return choice == "on" or (choice == "auto" and dialect == "postgres")
