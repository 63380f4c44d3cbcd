"""The worker loop: runs each step until it finds nothing due, then sleeps a little.

Inside `serve` the steps go through the group committer (no lock contention with ingest);
`shopevents worker` runs them on its own connection. Several workers are safe: every step
claims its rows with a compare-and-set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from shopevents.domain import carts, erasure, retention
from shopevents.errors import StorageUnavailable

if TYPE_CHECKING:
    from shopevents.context import AppContext

log = logging.getLogger("shopevents.worker")

Step = Callable[[], Awaitable[int]]


# During a storage outage the loop waits twice as long after each failed round, up to this.
OUTAGE_MAX_WAIT_SECONDS = 30.0


class Outage:
    """Tells of a storage outage once when it starts and once when it ends, not at every
    failed step, and gives the wait before the next round (doubling while it lasts)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.since: float | None = None
        self.wait = interval

    def failed(self, exc: StorageUnavailable, now: float) -> None:
        if self.since is None:
            self.since = now
            log.warning("worker: storage unavailable (%s); retrying until it is back", exc)
        else:
            self.wait = min(self.wait * 2, OUTAGE_MAX_WAIT_SECONDS)

    def ok(self, now: float) -> None:
        if self.since is not None:
            log.warning("worker: storage is back after %.1f s", now - self.since)
            self.since = None
        self.wait = self.interval


async def run_steps(steps: list[tuple[str, Step]], interval: float, stop: asyncio.Event) -> None:
    outage = Outage(interval)
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        busy = False
        down = False
        for name, step in steps:
            try:
                done = await step()
            except StorageUnavailable as exc:
                outage.failed(exc, loop.time())
                down = True
                break
            except Exception:
                log.exception("worker step %s failed", name)
                done = 0
            busy = busy or done > 0
        if not down:
            outage.ok(loop.time())
        if down or not busy:
            try:
                await asyncio.wait_for(stop.wait(), timeout=outage.wait)
            except TimeoutError:
                pass


def abandonment_step(ctx: AppContext, limit: int) -> Step:
    async def step() -> int:
        count: int = await ctx.write(lambda conn, now: carts.mark_due_abandoned(conn, now, limit))
        if count:
            ctx.metrics[("carts_abandoned", "")] += count
        return count

    return step


def erasure_step(ctx: AppContext) -> Step:
    """Do the oldest erasure left to the worker (one too large for its request)."""

    async def step() -> int:
        done: bool = await ctx.write(lambda conn, now: erasure.erase_pending(conn, now))
        return int(done)

    return step


def retention_step(ctx: AppContext) -> Step:
    """Empty raw bodies and delete quarantined events past their store's retention."""

    async def step() -> int:
        done: int = await ctx.write(lambda conn, now: retention.prune_due(conn, now))
        return done

    return step
