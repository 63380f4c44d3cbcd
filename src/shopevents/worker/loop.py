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

from shopevents.domain import carts

if TYPE_CHECKING:
    from shopevents.context import AppContext

log = logging.getLogger("shopevents.worker")

Step = Callable[[], Awaitable[int]]


async def run_steps(steps: list[tuple[str, Step]], interval: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        busy = False
        for name, step in steps:
            try:
                done = await step()
            except Exception:
                log.exception("worker step %s failed", name)
                done = 0
            busy = busy or done > 0
        if not busy:
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass


def abandonment_step(ctx: AppContext, limit: int) -> Step:
    async def step() -> int:
        count: int = await ctx.write(lambda conn, now: carts.mark_due_abandoned(conn, now, limit))
        if count:
            ctx.metrics[("carts_abandoned", "")] += count
        return count

    return step
