"""Running reports inside the server: reads on pooled connections in a thread, and the
rollups caught up in the background (a short read, then a compare-and-set write through the
group committer), at most one catch-up per store at a time."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from shopevents.clock import monotonic
from shopevents.context import AppContext
from shopevents.reports import rollups
from shopevents.reports.facts import KINDS
from shopevents.reports.timebuckets import Range, local_today, make_range
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

log = logging.getLogger("shopevents.reports")

REFRESH_SECONDS = 30.0
"""A store's rollups are caught up at most this often by report reads."""


class Maintainer:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.running: set[str] = set()
        self.last: dict[str, float] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def poke(self, store: StoreRecord) -> None:
        """Catch the store's rollups up in the background unless done very recently."""
        now = monotonic()
        if store.id in self.running or now - self.last.get(store.id, -1e9) < REFRESH_SECONDS:
            return
        self.running.add(store.id)
        self.last[store.id] = now
        task = asyncio.get_running_loop().create_task(self.run(store))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, store: StoreRecord, max_steps: int = 1000) -> int:
        steps = 0
        try:
            for kind in KINDS:
                while steps < max_steps:
                    now = self.ctx.now_us()
                    chunk = await self.ctx.read(_planner(store, kind, now))
                    if chunk is None:
                        break
                    ok = await self.ctx.write(_applier(chunk))
                    steps += 1
                    if not ok or chunk.hi == chunk.lo:
                        break
        except Exception:
            log.exception("report rollups of store %s could not be caught up", store.id)
        finally:
            self.running.discard(store.id)
        return steps


def _planner(store: StoreRecord, kind: str, now: int) -> Callable[[Conn], rollups.Chunk | None]:
    def plan(conn: Conn) -> rollups.Chunk | None:
        return rollups.next_chunk(conn, store.id, store.timezone, kind, now)

    return plan


def _applier(chunk: rollups.Chunk) -> Callable[[Conn, int], bool]:
    def apply(conn: Conn, now: int) -> bool:
        return rollups.apply_chunk(conn, chunk, now)

    return apply


_MAINTAINERS: weakref.WeakKeyDictionary[AppContext, Maintainer] = weakref.WeakKeyDictionary()


def maintainer(ctx: AppContext) -> Maintainer:
    m = _MAINTAINERS.get(ctx)
    if m is None:
        m = _MAINTAINERS[ctx] = Maintainer(ctx)
    return m


def rollup_step(ctx: AppContext) -> tuple[str, Callable[[], Awaitable[int]]]:
    """A worker step (optional): keep every store's rollups caught up."""
    from shopevents.storage import stores

    async def step() -> int:
        m = maintainer(ctx)
        done = 0
        for store in await ctx.read(stores.list_stores):
            now = monotonic()
            if store.id in m.running or now - m.last.get(store.id, -1e9) < REFRESH_SECONDS:
                continue
            m.running.add(store.id)
            m.last[store.id] = now
            done += await m.run(store)
        return done

    return ("report-rollups", step)


def range_for(ctx: AppContext, store: StoreRecord, params: Any, **kw: Any) -> Range:
    """A Range from query parameters `from`, `to`, `interval` (ValueError if unusable)."""
    today = local_today(store.timezone, ctx.clock.now())
    return make_range(
        store.timezone,
        today,
        params.get("from") or None,
        params.get("to") or None,
        params.get("interval") or None,
        **kw,
    )


async def run_report(
    ctx: AppContext, store: StoreRecord, fn: Callable[..., Any], *args: Any
) -> Any:
    """Run `fn(conn, store, *args)` on a pooled connection; poke the rollups."""
    maintainer(ctx).poke(store)
    return await ctx.read(lambda c: fn(c, store, *args))
