"""The worker loop: one loop over the steps of worker/steps.py, the same in every host.

A round runs each step once (abandonment, erasure, retention, webhook dispatch, webhook
delivery, report rollups). After a round in which a step found work the loop runs the next
one at once; after a round in which none did, it waits `worker.interval_seconds`. While the
database is away (`StorageUnavailable`) it waits twice as long after each failed round, up
to `OUTAGE_MAX_WAIT_SECONDS`, and says so once when the outage starts and once when it ends.
Several loops may run on one database, in one process or many: every step claims its rows
with a compare-and-set.

Hosts:

- `serve` runs it as a task of the app's lifespan: `Worker(ctx).start()`, then
  `await worker.stop()` at shutdown.
- `shopevents worker` runs it in an event loop of its own on an `AppContext` of its own:
  `asyncio.run(run_until_signalled(ctx))` (`run_forever` until SIGINT or SIGTERM), or
  `asyncio.run(run_until_idle(ctx))` for `--once`.
- Any other host does the same. In its event loop (its own thread is fine)::

      ctx = AppContext(settings, db, clock)   # writes through the group committer
      stop = asyncio.Event()
      task = asyncio.create_task(worker.loop.run_forever(ctx, stop))
      ...
      stop.set()          # from the same event loop
      await task          # the round in progress ends first
      ctx.close()         # the loop never closes the runtime it was given

  `run_forever` accepts any `Runtime` (worker/steps.py): an object with `settings`,
  `clock`, `metrics` (a Counter), `async read(fn(conn))` and
  `async write(fn(conn, now_micros))`, the write committing when `fn` returns.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from shopevents.clock import monotonic
from shopevents.errors import StorageUnavailable
from shopevents.worker.steps import Runtime, Step, close, drain, run_round, steps

log = logging.getLogger("shopevents.worker")

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


class Worker:
    """The loop over `steps(runtime)` (or the `found` steps given, for tests of the loop).

    `start()` / `await stop()` run it as a task of the running event loop;
    `await run_forever(stop)` and `await run_until_idle()` run it in the caller's task. Each
    ends by stopping the delivery lanes still running (a delivery cut short is sent again
    after its lease) and closing their HTTP client; a Worker runs once."""

    def __init__(self, runtime: Runtime, found: list[Step] | None = None) -> None:
        self.runtime = runtime
        self.steps = steps(runtime) if found is None else found
        self.outage = Outage(runtime.settings.worker.interval_seconds)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run rounds until `stop` is set (checked between rounds and during the waits)."""
        try:
            while not stop.is_set():
                if not await self._round(run_round):
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=self.outage.wait)
                    except TimeoutError:
                        pass
        finally:
            await close(self.steps)

    async def run_until_idle(self) -> bool:
        """Run rounds until nothing is due and no delivery is in flight, waiting out a
        storage outage; True if the rounds after the last outage (if any) found work."""
        try:
            while True:
                found = await self._round(drain)
                if found is not None:
                    return found
                await asyncio.sleep(self.outage.wait)
        finally:
            await close(self.steps)

    async def _round(self, run: Callable[[list[Step]], Awaitable[bool]]) -> bool | None:
        """`run(self.steps)` (`run_round`, or `drain`: rounds until idle); None when the
        database is away."""
        try:
            busy = await run(self.steps)
        except StorageUnavailable as exc:
            self.outage.failed(exc, monotonic())
            return None
        self.outage.ok(monotonic())
        return busy

    def start(self) -> asyncio.Task[None]:
        """Run the loop as a task of the running event loop (until `stop`)."""
        self._task = asyncio.get_running_loop().create_task(
            self.run_forever(self._stop), name="shopevents-worker"
        )
        return self._task

    async def stop(self) -> None:
        """Stop the loop started with `start` and wait for the round in progress to end."""
        self._stop.set()
        if self._task is not None:
            await self._task


async def run_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    """Run the worker loop on `runtime` until `stop` is set; the entry point for a host (see
    the module's docstring). Returns once the round in progress has ended and the delivery
    lanes are stopped; `runtime` stays open."""
    await Worker(runtime).run_forever(stop)


async def run_until_idle(runtime: Runtime) -> bool:
    """Run the worker's steps on `runtime` until nothing is due and no delivery is in flight
    (`shopevents worker --once`); True if any step found work."""
    return await Worker(runtime).run_until_idle()


async def run_until_signalled(runtime: Runtime) -> None:
    """`run_forever` until the process gets SIGINT or SIGTERM (`shopevents worker`; call it
    from the main thread)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_forever(runtime, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
