"""The delivery worker: the dispatcher step and the delivery lanes.

Each endpoint with due deliveries gets a lane (an asyncio task) that sends its deliveries one
at a time: claim (commit), send (no transaction open), record (commit), next. Lanes of
different endpoints run side by side, up to `webhooks.concurrency`, on one shared HTTP
client, so an endpoint that hangs holds only its own lane until its timeout.

Inside `serve`, `worker_steps(ctx)` gives the steps for the app's worker loop; claims and
results go through the group committer. The `shopevents worker` process calls
`deliver_due(conn, clock, settings)`, which runs the same lanes on a background event loop
until nothing is due.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx

from shopevents.clock import Clock, to_micros
from shopevents.config import Settings
from shopevents.storage.database import Conn
from shopevents.webhooks import deliveries, guard, sender
from shopevents.webhooks.deliveries import Claimed

log = logging.getLogger("shopevents.webhooks")

T = TypeVar("T")
Write = Callable[[Callable[[Conn, int], Any]], Awaitable[Any]]
Read = Callable[[Callable[[Conn], Any]], Awaitable[Any]]
Step = Callable[[], Awaitable[int]]

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
        if not await self.read(deliveries.outbox_waiting):
            return 0
        return int(
            await self.write(
                lambda conn, now: deliveries.dispatch_outbox(conn, now, DISPATCH_BATCH)
            )
        )

    async def start_lanes(self) -> int:
        """Start a lane for each endpoint with due deliveries that has none; give how many."""
        free = self.concurrency - len(self.lanes)
        if free <= 0:
            return 0
        now = to_micros(self.clock.now())
        limit = free + len(self.lanes)
        due = await self.read(lambda conn: deliveries.due_endpoints(conn, now, limit))
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

    async def dispatch_step(self) -> int:
        return await self.dispatch()

    async def deliver_step(self) -> int:
        """Start lanes; give the attempts finished since the last call (so the loop comes
        back at once while deliveries complete, and sleeps when nothing moves)."""
        await self.start_lanes()
        return self.take_completed()

    # -- lanes -------------------------------------------------------------------------

    async def _lane(self, endpoint_id: str) -> None:
        token = secrets.token_hex(8)
        lease = lease_micros(self.settings)
        try:
            while True:
                claimed = await self.write(
                    lambda conn, now: deliveries.claim_next(conn, endpoint_id, token, now, lease)
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
                    lambda conn, now: deliveries.release_endpoint(conn, endpoint_id, token)
                )
            except Exception:
                pass
        finally:
            self.lanes.pop(endpoint_id, None)

    async def attempt(self, claimed: Claimed) -> deliveries.Outcome:
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
            lambda conn, now: deliveries.record(conn, claimed, outcome, now, self.rng)
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


# --- inside `serve` ---------------------------------------------------------------------


def worker_steps(ctx: Any) -> list[tuple[str, Step]]:
    """The app's worker steps: fan the outbox out, and start delivery lanes."""

    def counted(status: str) -> None:
        metrics = getattr(ctx, "metrics", None)
        if metrics is not None:
            metrics[("webhook_attempts", status)] += 1

    deliverer = Deliverer(ctx.settings, ctx.clock, ctx.write, ctx.read, on_result=counted)
    ctx.webhook_deliverer = deliverer
    return [
        ("webhooks.dispatch", deliverer.dispatch_step),
        ("webhooks.deliver", deliverer.deliver_step),
    ]


async def close_worker(ctx: Any) -> None:
    """Stop the app's delivery lanes and close their HTTP client (call at shutdown)."""
    deliverer = getattr(ctx, "webhook_deliverer", None)
    if deliverer is not None:
        await deliverer.aclose()


# --- the `shopevents worker` process and the CLI -----------------------------------------


class _Runner:
    """One background event loop per process, with its shared HTTP clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="shopevents-webhooks", daemon=True
        )
        self.thread.start()
        self.clients: dict[tuple[float, int], httpx.AsyncClient] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def client(self, settings: Settings) -> httpx.AsyncClient:
        key = (settings.webhooks.timeout_seconds, max(1, settings.webhooks.concurrency))
        found = self.clients.get(key)
        if found is None:
            found = self.clients[key] = sender.make_client(*key)
        return found


_RUNNER: _Runner | None = None
_RUNNER_LOCK = threading.Lock()


def _runner() -> _Runner:
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None:
            _RUNNER = _Runner()
        return _RUNNER


def _on_conn(
    conn: Conn,
    clock: Clock,
    settings: Settings,
    rng: random.Random | None,
    resolver: guard.Resolver | None,
) -> Deliverer:
    async def write(fn: Callable[[Conn, int], Any]) -> Any:
        with conn.transaction():
            return fn(conn, to_micros(clock.now()))

    async def read(fn: Callable[[Conn], Any]) -> Any:
        return fn(conn)

    return Deliverer(
        settings,
        clock,
        write,
        read,
        client=_runner().client(settings),
        rng=rng,
        resolver=resolver,
    )


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
    on `conn` (one statement at a time, from the background loop while this call waits)."""
    runner = _runner()

    async def main() -> int:
        deliverer = _on_conn(conn, clock, settings, rng, resolver)
        return await deliverer.run_until_idle()

    return runner.run(main())


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
    runner = _runner()

    async def main() -> str | None:
        deliverer = _on_conn(conn, clock, settings, rng, resolver)
        token = secrets.token_hex(8)
        lease = lease_micros(settings)
        now = to_micros(clock.now())
        for endpoint_id in deliveries.due_endpoints(conn, now, 20):

            def claim(c: Conn, t: int, e: str = endpoint_id) -> Claimed | None:
                return deliveries.claim_next(c, e, token, t, lease)

            def release(c: Conn, t: int, e: str = endpoint_id) -> None:
                deliveries.release_endpoint(c, e, token)

            claimed = await deliverer.write(claim)
            if claimed is None:
                continue
            try:
                return await deliverer.deliver(claimed)
            finally:
                await deliverer.write(release)
        return None

    return runner.run(main())


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
    runner = _runner()

    async def main() -> str | None:
        deliverer = _on_conn(conn, clock, settings, rng, resolver)
        token = secrets.token_hex(8)
        lease = lease_micros(settings)
        claimed = await deliverer.write(
            lambda c, now: deliveries.claim_delivery(c, delivery_id, token, now, lease)
        )
        if claimed is None:
            return None
        try:
            return await deliverer.deliver(claimed)
        finally:
            await deliverer.write(
                lambda c, now: deliveries.release_endpoint(c, claimed.endpoint_id, token)
            )

    return runner.run(main())
