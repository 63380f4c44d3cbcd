"""The delivery worker: the dispatcher step and the delivery lanes.

Each endpoint with due deliveries gets a lane (an asyncio task) that sends its deliveries one
at a time: claim (commit), send (no transaction open), record (commit), next. Lanes of
different endpoints run side by side, up to `webhooks.concurrency`, on one shared HTTP
client, so an endpoint that hangs holds only its own lane until its timeout.

The worker loop (`shopevents.worker`) makes one `Deliverer` per loop with
`worker_deliverer(runtime)`: claims and results go through the runtime's writes (the group
committer, in `serve` and `shopevents worker`). `deliver_due`, `deliver_one` and
`deliver_now` run the same lanes on one connection, each in an event loop of its own for
the length of the call (the CLI's `webhooks ping`, tests).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from shopevents import ids
from shopevents.clock import Clock, to_micros
from shopevents.config import Settings
from shopevents.storage.database import Conn
from shopevents.webhooks import attempts, claims, dispatch, guard, sender
from shopevents.webhooks.claims import Claimed

log = logging.getLogger("shopevents.webhooks")

T = TypeVar("T")
Write = Callable[[Callable[[Conn, int], Any]], Awaitable[Any]]
Read = Callable[[Callable[[Conn], Any]], Awaitable[Any]]
Step = Callable[[], Awaitable[bool]]

LEASE_MARGIN_SECONDS = 60.0
DISPATCH_BATCH = 200


def lease_micros(settings: Settings) -> int:
    """How long a claim holds: the attempt's timeout plus a margin. A worker that dies
    mid-delivery delays that delivery (and its endpoint) by this much at most."""
    return int((settings.webhooks.timeout_seconds + LEASE_MARGIN_SECONDS) * 1_000_000)


class Deliverer:
    """Dispatches the outbox and runs one lane per endpoint with due deliveries."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        write: Write,
        read: Read,
        *,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        resolver: guard.Resolver | None = None,
        on_result: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.write = write
        self.read = read
        self.rng = rng
        self.resolver = resolver or guard.system_resolver
        self.on_result = on_result
        self.lanes: dict[str, asyncio.Task[None]] = {}
        self.completed = 0
        self._client = client
        self._owns_client = client is None

    @property
    def concurrency(self) -> int:
        return max(1, self.settings.webhooks.concurrency)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = sender.make_client(
                self.settings.webhooks.timeout_seconds, self.concurrency
            )
        return self._client

    # -- steps -------------------------------------------------------------------------

    async def dispatch(self) -> int:
        """Fan undispatched outbox rows out into deliveries; give how many rows."""
        if not await self.read(dispatch.outbox_waiting):
            return 0
        return int(
            await self.write(lambda conn, now: dispatch.dispatch_outbox(conn, now, DISPATCH_BATCH))
        )

    async def start_lanes(self) -> int:
        """Start a lane for each endpoint with due deliveries that has none; give how many."""
        free = self.concurrency - len(self.lanes)
        if free <= 0:
            return 0
        now = to_micros(self.clock.now())
        limit = free + len(self.lanes)
        due = await self.read(lambda conn: claims.due_endpoints(conn, now, limit))
        started = 0
        for endpoint_id in due:
            if endpoint_id in self.lanes:
                continue
            if len(self.lanes) >= self.concurrency:
                break
            self.lanes[endpoint_id] = asyncio.create_task(
                self._lane(endpoint_id), name=f"webhooks:{endpoint_id}"
            )
            started += 1
        return started

    def take_completed(self) -> int:
        done, self.completed = self.completed, 0
        return done

    async def dispatch_step(self) -> bool:
        """A worker step: fan the outbox out; True if there was something to fan out."""
        return await self.dispatch() > 0

    async def deliver_step(self) -> bool:
        """A worker step: start lanes; True if attempts finished since the last call (so the
        loop comes back at once while deliveries complete, and waits when nothing moves)."""
        await self.start_lanes()
        return self.take_completed() > 0

    async def settle(self) -> bool:
        """Wait until every running lane has finished (each stops when its endpoint has
        nothing due); True if any was running."""
        if not self.lanes:
            return False
        while self.lanes:
            await asyncio.wait(list(self.lanes.values()))
        return True

    # -- lanes -------------------------------------------------------------------------

    async def _lane(self, endpoint_id: str) -> None:
        token = ids.token()
        lease = lease_micros(self.settings)
        try:
            while True:
                claimed = await self.write(
                    lambda conn, now: claims.claim_next(conn, endpoint_id, token, now, lease)
                )
                if claimed is None:
                    return
                await self.deliver(claimed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook lane for %s failed", endpoint_id)
            try:
                await self.write(
                    lambda conn, now: claims.release_endpoint(conn, endpoint_id, token)
                )
            except Exception:
                pass
        finally:
            self.lanes.pop(endpoint_id, None)

    async def attempt(self, claimed: Claimed) -> attempts.Outcome:
        """Send one attempt (no database involved)."""
        return await sender.send(
            self.client(),
            claimed,
            self.clock.now,
            timeout=self.settings.webhooks.timeout_seconds,
            allow_private=self.settings.webhooks.allow_private_addresses,
            resolver=self.resolver,
        )

    async def deliver(self, claimed: Claimed) -> str | None:
        """Send a claimed delivery, then record the result in its own transaction."""
        outcome = await self.attempt(claimed)
        status = await self.write(
            lambda conn, now: attempts.record(conn, claimed, outcome, now, self.rng)
        )
        self.completed += 1
        if self.on_result is not None:
            self.on_result(status or "superseded")
        if status in ("failed", "dead"):
            log.warning(
                "webhook delivery %s to %s is %s: %s",
                claimed.id,
                claimed.endpoint_id,
                status,
                outcome.error,
            )
        return status

    async def run_until_idle(self, poll: float = 0.1) -> int:
        """Dispatch and deliver until no lane runs and nothing is due; give the outbox rows
        dispatched plus the attempts made."""
        handled = 0
        try:
            while True:
                handled += await self.dispatch()
                await self.start_lanes()
                if not self.lanes:
                    break
                await asyncio.wait(
                    list(self.lanes.values()), timeout=poll, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            await self.cancel_lanes()
        return handled + self.take_completed()

    async def cancel_lanes(self) -> None:
        tasks = list(self.lanes.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the lanes (a delivery cut short is sent again after its lease) and close the
        client if it is ours."""
        await self.cancel_lanes()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


# --- the worker loop ----------------------------------------------------------------------


def worker_deliverer(runtime: Any) -> Deliverer:
    """The deliverer of a worker loop: reads and writes through `runtime` (an AppContext, or
    anything with its `settings`, `clock`, `metrics`, `read` and `write`); each attempt is
    counted in its metrics (`webhook_attempts` by outcome)."""

    def counted(status: str) -> None:
        runtime.metrics[("webhook_attempts", status)] += 1

    return Deliverer(
        runtime.settings, runtime.clock, runtime.write, runtime.read, on_result=counted
    )


def worker_steps(runtime: Any) -> list[tuple[str, Step]]:
    """The webhook steps alone, as (name, step) pairs, on a deliverer of their own. The worker
    loop builds its steps with `worker_deliverer`, which also gives it the lanes to wait for
    and to stop."""
    deliverer = worker_deliverer(runtime)
    return [
        ("webhooks.dispatch", deliverer.dispatch_step),
        ("webhooks.deliver", deliverer.deliver_step),
    ]


# --- on one connection (the CLI's `webhooks ping`, tests) -----------------------------------


def _on_conn(
    conn: Conn,
    clock: Clock,
    settings: Settings,
    rng: random.Random | None,
    resolver: guard.Resolver | None,
    job: Callable[[Deliverer], Awaitable[T]],
) -> T:
    """Run `job` with a deliverer on `conn` (each write its own transaction) in an event loop
    of its own, then stop its lanes and close its HTTP client."""

    async def write(fn: Callable[[Conn, int], Any]) -> Any:
        with conn.transaction():
            return fn(conn, to_micros(clock.now()))

    async def read(fn: Callable[[Conn], Any]) -> Any:
        return fn(conn)

    async def main() -> T:
        deliverer = Deliverer(settings, clock, write, read, rng=rng, resolver=resolver)
        try:
            return await job(deliverer)
        finally:
            await deliverer.aclose()

    return asyncio.run(main())


def deliver_due(
    conn: Conn,
    clock: Clock,
    settings: Settings,
    *,
    rng: random.Random | None = None,
    resolver: guard.Resolver | None = None,
) -> int:
    """Dispatch the outbox and deliver everything due, one lane per endpoint, until nothing
    is due; give the outbox rows dispatched plus the attempts made. The database work runs
    on `conn`, one statement at a time."""

    async def job(deliverer: Deliverer) -> int:
        return await deliverer.run_until_idle()

    return _on_conn(conn, clock, settings, rng, resolver, job)


def deliver_one(
    conn: Conn,
    clock: Clock,
    settings: Settings,
    *,
    rng: random.Random | None = None,
    resolver: guard.Resolver | None = None,
) -> str | None:
    """Claim one due delivery (any endpoint), send it, record it; give its new status, or
    None when nothing was due."""

    async def job(deliverer: Deliverer) -> str | None:
        token = ids.token()
        lease = lease_micros(settings)
        now = to_micros(clock.now())
        for endpoint_id in claims.due_endpoints(conn, now, 20):

            def claim(c: Conn, t: int, e: str = endpoint_id) -> Claimed | None:
                return claims.claim_next(c, e, token, t, lease)

            def release(c: Conn, t: int, e: str = endpoint_id) -> None:
                claims.release_endpoint(c, e, token)

            claimed = await deliverer.write(claim)
            if claimed is None:
                continue
            try:
                return await deliverer.deliver(claimed)
            finally:
                await deliverer.write(release)
        return None

    return _on_conn(conn, clock, settings, rng, resolver, job)


def deliver_now(
    conn: Conn,
    clock: Clock,
    settings: Settings,
    delivery_id: str,
    *,
    rng: random.Random | None = None,
    resolver: guard.Resolver | None = None,
) -> str | None:
    """Send one given pending delivery now (the CLI's `ping`); give its new status, or None
    when it could not be claimed (not pending, or its endpoint is busy with another)."""

    async def job(deliverer: Deliverer) -> str | None:
        token = ids.token()
        lease = lease_micros(settings)
        claimed = await deliverer.write(
            lambda c, now: claims.claim_delivery(c, delivery_id, token, now, lease)
        )
        if claimed is None:
            return None
        try:
            return await deliverer.deliver(claimed)
        finally:
            await deliverer.write(
                lambda c, now: claims.release_endpoint(c, claimed.endpoint_id, token)
            )

    return _on_conn(conn, clock, settings, rng, resolver, job)
