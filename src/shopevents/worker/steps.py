"""The worker's steps: one list, the same in every host.

A step does one bounded piece of work and tells whether it found any: `await step.run()`
is True when it did something (the loop then runs again at once), False when nothing was
due. In order: abandonment, erasure, retention, webhook dispatch, webhook delivery, report
rollups. Each claims its rows with a compare-and-set, so several workers may run at once.

The steps read and write through a `Runtime`: the `AppContext` in `serve` and `shopevents
worker` (writes through the group committer, reads in reader threads), or `OnConnection`
(one connection, each write its own transaction) for `run_once`. A round runs each step once
(`run_round`); `drain` runs rounds until nothing is due. The loop that repeats rounds and
waits between them is in worker/loop.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from shopevents.clock import Clock, to_micros
from shopevents.config import Settings
from shopevents.context import AppContext
from shopevents.domain import erasure, retention
from shopevents.errors import StorageUnavailable
from shopevents.reports.service import rollup_step
from shopevents.storage.database import Conn
from shopevents.webhooks.worker import worker_deliverer
from shopevents.worker.abandonment import abandon_due

T = TypeVar("T")

log = logging.getLogger("shopevents.worker")


class Runtime(Protocol):
    """What the steps work with. `AppContext` is one; so is `OnConnection`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def metrics(self) -> Counter[tuple[str, str]]: ...

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """`fn(conn)` on a connection with no transaction of its own to keep."""
        ...

    async def write(self, fn: Callable[[Conn, int], T]) -> T:
        """`fn(conn, now_micros)` in a transaction that commits when it returns."""
        ...


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], Awaitable[bool]]
    """Do one bounded piece of work; True if there was any."""
    settle: Callable[[], Awaitable[bool]] | None = None
    """Wait for work the step left running (delivery lanes); True if there was any."""
    close: Callable[[], Awaitable[None]] | None = None
    """Stop what the step left running and free what it holds (at the loop's end)."""


def steps(rt: Runtime) -> list[Step]:
    """The worker's steps on `rt`, in the order a round runs them."""
    limit = rt.settings.worker.batch_size

    async def abandonment() -> bool:
        count: int = await rt.write(abandon_due(limit))
        if count:
            rt.metrics[("carts_abandoned", "")] += count
        return count > 0

    async def erasures() -> bool:
        """The oldest erasure left to the worker (one too large for its request)."""
        done: bool = await rt.write(erasure.erase_pending)
        return done

    async def retention_step() -> bool:
        """Empty raw bodies and delete quarantined events past their store's retention."""
        pruned: int = await rt.write(retention.prune_due)
        return pruned > 0

    deliverer = worker_deliverer(rt)
    found = [
        Step("abandonment", abandonment),
        Step("erasure", erasures),
        Step("retention", retention_step),
        Step("webhooks.dispatch", deliverer.dispatch_step),
        Step(
            "webhooks.deliver",
            deliverer.deliver_step,
            settle=deliverer.settle,
            close=deliverer.aclose,
        ),
    ]
    if isinstance(rt, AppContext):
        # The rollups' catch-up shares its per-store bookkeeping with the server's report
        # reads, which is kept on the AppContext; `OnConnection` leaves them to `catch_up`.
        name, catch_up = rollup_step(rt)

        async def rollups() -> bool:
            return await catch_up() > 0

        found.append(Step(name, rollups))
    return found


class OnConnection:
    """A runtime on one connection the caller owns (tests, tools): each write is its own
    transaction at `clock`'s time; reads and writes run on the event loop's thread."""

    def __init__(self, conn: Conn, clock: Clock, settings: Settings) -> None:
        self.conn = conn
        self.clock = clock
        self.settings = settings
        self.metrics: Counter[tuple[str, str]] = Counter()

    async def read(self, fn: Callable[[Conn], T]) -> T:
        return fn(self.conn)

    async def write(self, fn: Callable[[Conn, int], T]) -> T:
        with self.conn.transaction():
            return fn(self.conn, to_micros(self.clock.now()))


async def run_round(found: list[Step]) -> bool:
    """Run each step once; True if any found work. A step that fails is logged and the round
    goes on; `StorageUnavailable` ends the round and propagates (the database is away)."""
    busy = False
    for step in found:
        try:
            done = await step.run()
        except StorageUnavailable:
            raise
        except Exception:
            log.exception("worker step %s failed", step.name)
            done = False
        busy = busy or done
    return busy


async def settle(found: list[Step]) -> bool:
    """Wait for the work the steps left running; True if there was any."""
    waited = False
    for step in found:
        if step.settle is not None:
            waited = await step.settle() or waited
    return waited


async def close(found: list[Step]) -> None:
    """Stop what the steps left running (delivery lanes: a delivery cut short is sent again
    after its lease) and free what they hold."""
    for step in found:
        if step.close is not None:
            await step.close()


async def drain(found: list[Step]) -> bool:
    """Run rounds until one finds nothing and nothing is left running; True if any round
    found work."""
    did = False
    while await run_round(found) or await settle(found):
        did = True
    return did


def run_once(conn: Conn, clock: Clock, settings: Settings) -> bool:
    """Run the worker's steps on `conn` until nothing is due and no delivery is in flight,
    in an event loop of its own (what `shopevents worker --once` does, on one connection);
    True if any step found work. The report rollups are not among them (see `steps`)."""

    async def main() -> bool:
        found = steps(OnConnection(conn, clock, settings))
        try:
            return await drain(found)
        finally:
            await close(found)

    return asyncio.run(main())
