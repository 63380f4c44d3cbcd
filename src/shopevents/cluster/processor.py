"""The cluster processor (`shopevents process`): the second driver of the intake service.

It applies what collectors published to the intake stream, with the embedded mode's own
code: each message becomes the `Prepared` the collector judged (`intake.prepare` is pure;
the collector's intake id, minted tracker and purchase verdicts are set on it), and goes
through the group committer as a request of `serve` does (`intake.warm`, then
`intake.apply_encoded`, many requests to a transaction, a failed transaction retried one
request at a time). So the processor has the committer's batching, retry-alone and
commit marks, and nothing of its own to keep in step with them.

- Partitions: the processor holds leases (cluster/leases.py) on a fair share of them; per
  partition one task fetches up to `FETCH_BATCH` messages, applies them, then acknowledges
  them, and only then fetches again: a partition is applied in stream order.
- Idempotent: a message whose intake id (or requestId) is already stored changes nothing, so
  a redelivery (a processor killed between COMMIT and the acknowledgement) is harmless.
- A message that cannot be read is set aside: logged with its bytes, and terminated (never
  redelivered). A message for a store that no longer exists is acknowledged and counted; a
  request that fails even alone is set aside as well.
- PostgreSQL away: the messages stay unacknowledged (kept from redelivery while the
  processor retries them, with a growing pause), and it resumes by itself.
- Lag: per partition, at most once a second, `cluster_partitions` gets the receive time of
  the last message applied and the messages still waiting in the partition.
- Takeover: a partition taken while messages of it are still unacknowledged (its previous
  processor died) restarts its consumer at the first unacknowledged message, so the rest
  follows in order at once instead of after the acknowledgement timeout.
- It also runs the worker loop (abandonment, webhooks, retention), unless `worker=False`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import threading
from collections import Counter
from typing import Any

import msgspec
import uvloop
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import NotFoundError

from shopevents import ids
from shopevents.clock import Clock, from_micros, monotonic
from shopevents.cluster import messages, streams
from shopevents.cluster import nats as cluster_nats
from shopevents.cluster.leases import RENEW_SECONDS, Leases
from shopevents.config import Settings
from shopevents.context import AppContext
from shopevents.domain.catalog import RecentWrites
from shopevents.errors import OutcomeUnknown, StorageUnavailable
from shopevents.ingest import intake
from shopevents.schema.verdicts import CheckContext, read_envelope
from shopevents.storage import cluster_partitions
from shopevents.storage.database import Conn, Database
from shopevents.storage.stores import StoreRecord

log = logging.getLogger("shopevents.processor")

FETCH_BATCH = 500
FETCH_SECONDS = 0.2
LAG_ROW_SECONDS = 1.0
# While the database is away a batch is tried again after this pause, doubling up to the max.
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
# Fetched batches in the group committer at once (of all partitions): enough to keep it busy
# (one transaction runs while the next one queues), few enough that a backlog does not
# queue every partition's batch at once.
IN_FLIGHT_BATCHES = 2
# How long a write may wait in the committer's queue before it counts as the database away.
QUEUE_SECONDS = 30.0
# How much of a message set aside the log shows.
SHOWN_BYTES = 4096
# A consumer made again without a known restart point starts this long before the receive
# time of the last message applied (collectors' and JetStream's clocks may differ a little).
RESTART_MARGIN_US = 60 * 1_000_000


class _Unreadable(Exception):
    pass


class _Lag(msgspec.Struct):
    """What the partition's row should say, and when it was last written."""

    through: int = 0
    pending: int = 0
    written: float = float("-inf")
    dirty: bool = False


class Processor:
    """One processor. `start()` runs it in a thread of its own (tests, embedding) until
    `stop()`; `await run(stop)` runs it in the caller's event loop."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        *,
        nats_urls: str | None = None,
        prefix: str | None = None,
        worker: bool = True,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.urls = nats_urls or settings.cluster.nats_urls
        self.prefix = prefix or settings.cluster.prefix
        self.worker = worker
        # host-pid-random: a lease key's characters only
        host = re.sub(r"[^-_a-zA-Z0-9]", "_", socket.gethostname())[:40]
        self.id = name or f"{host}-{os.getpid()}-{ids.token(3)}"
        self.stream = messages.stream_name(self.prefix)
        # applied, skipped (applied before), unreadable, unknown_store, failed, batches
        self.counts: Counter[str] = Counter()
        self.partitions = 0
        self._lag: dict[int, _Lag] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self.leases: Leases | None = None
        self._in_flight = asyncio.Semaphore(IN_FLIGHT_BATCHES)
        # Partitions whose consumer is being made again: the stream sequence to start from.
        self._restart: dict[int, int] = {}
        self._work_queue = False

    # -- in a thread ----------------------------------------------------------------------

    def start(self, timeout: float = 30) -> Processor:
        self._thread = threading.Thread(target=self._main, name=f"processor-{self.id}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"processor {self.id} did not start within {timeout:g} s")
        if self._failed is not None:
            raise self._failed
        return self

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.run(self._stop)
            except BaseException as exc:
                self._failed = exc
                self._ready.set()
                raise

        with contextlib.suppress(Exception):
            uvloop.run(main())  # the event loop `collect` and `serve` run on too (uvicorn's)

    def run_until_signalled(self) -> None:
        """`shopevents process`: run in an event loop of this thread until SIGINT or SIGTERM
        (then a graceful stop)."""

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await self.run(stop)

        uvloop.run(main())  # the event loop `collect` and `serve` run on too (uvicorn's)

    def stop(self, timeout: float = 60) -> None:
        """Graceful: the batches in hand are applied and acknowledged, the leases released."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def owned(self) -> set[int]:
        return set(self.leases.owned) if self.leases is not None else set()

    # -- the processor --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set."""
        ctx = AppContext(self.settings, self.db, self.clock)
        # Nobody waits for an answer here: a backlog may queue many writes in the committer,
        # and only the database being away should fail them.
        ctx.committer.write_timeout = QUEUE_SECONDS
        ctx.committer.commit_timeout = QUEUE_SECONDS + ctx.committer.commit_timeout
        self._in_flight = asyncio.Semaphore(IN_FLIGHT_BATCHES)
        nc = await cluster_nats.connect(self.urls, name=f"processor {self.id}", first_wait=30)
        worker = None
        tasks: dict[int, tuple[asyncio.Task[None], asyncio.Event]] = {}
        try:
            js = nc.jetstream()
            self.partitions = await streams.partitions(js, self.prefix)
            info = await js.stream_info(self.stream)
            # A work queue keeps only unacknowledged messages: a consumer made again starts at
            # the first of them by itself (and a work queue accepts no other start).
            self._work_queue = info.config.retention == api.RetentionPolicy.WORK_QUEUE
            kv = await js.key_value(messages.bucket_name(self.prefix, "leases"))
            self.leases = leases = Leases(kv, self.id, self.partitions)
            if self.worker:
                from shopevents.worker.loop import Worker

                worker = Worker(ctx)
                worker.start()
            log.info("processor %s: %d partitions", self.id, self.partitions)
            self._ready.set()
            while not stop.is_set():
                taken, lost = await leases.beat()
                for p in lost:
                    log.warning("processor %s: lease of partition %d lost", self.id, p)
                    if p in tasks:
                        tasks.pop(p)[0].cancel()
                for p in taken:
                    done = asyncio.Event()
                    task = asyncio.create_task(self._partition(ctx, js, p, stop, done))
                    tasks[p] = (task, done)
                for p in leases.surplus():  # another processor came: give it its share
                    if p in tasks:
                        tasks[p][1].set()
                ended = [p for p, (task, _) in tasks.items() if task.done()]
                if ended:  # given back (or failed): acknowledgements out, then the lease
                    with contextlib.suppress(Exception):
                        await nc.flush(timeout=5)
                for p in ended:
                    task = tasks.pop(p)[0]
                    if not task.cancelled() and task.exception() is not None:
                        log.error(
                            "processor %s: partition %d stopped",
                            self.id,
                            p,
                            exc_info=task.exception(),
                        )
                    await leases.release(p)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RENEW_SECONDS)
            for _, done in tasks.values():
                done.set()
            await asyncio.gather(*(t for t, _ in tasks.values()), return_exceptions=True)
            with contextlib.suppress(Exception):
                await nc.flush(timeout=5)
            await leases.leave()
            log.info("processor %s: stopped; %s", self.id, dict(self.counts))
        finally:
            for task, _ in tasks.values():
                task.cancel()
            if worker is not None:
                await worker.stop()
            with contextlib.suppress(Exception):
                await nc.close()
            ctx.close()

    async def _partition(
        self, ctx: AppContext, js: Any, p: int, stop: asyncio.Event, done: asyncio.Event
    ) -> None:
        """Apply partition `p` until `stop` or `done`; each fetched batch is applied and
        acknowledged before the next fetch."""
        durable = messages.consumer_name(p)
        await self._consumer_ready(ctx, js, p)
        sub = await js.pull_subscribe_bind(durable, self.stream)
        lag = self._lag.setdefault(p, _Lag())
        try:
            while not (stop.is_set() or done.is_set()):
                try:
                    msgs = await sub.fetch(FETCH_BATCH, timeout=FETCH_SECONDS)
                except (NatsTimeout, TimeoutError):
                    msgs = []
                except Exception as exc:  # NATS away: the client reconnects
                    log.warning("processor %s: partition %d: fetch failed (%s)", self.id, p, exc)
                    await asyncio.sleep(RETRY_FIRST_SECONDS)
                    continue
                if not msgs:  # nothing new: the lag row, if it is behind
                    if lag.dirty and monotonic() - lag.written >= LAG_ROW_SECONDS:
                        with contextlib.suppress(StorageUnavailable, OutcomeUnknown):
                            await ctx.write(self._lag_write(p, lag))
                    continue
                if not await self._apply(ctx, p, msgs, stop):
                    return  # stopped during a database outage: the messages are redelivered
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _consumer_ready(self, ctx: AppContext, js: Any, p: int) -> None:
        """Before a partition just taken is fetched. If messages of it are unacknowledged
        (delivered to a processor that died), its consumer is made again from the first of
        them, so that they come again now and in order, rather than after the
        acknowledgement timeout and behind later ones. A consumer found missing (a re-making
        cut short, by a crash or a JetStream leader election) is made again: from where this
        processor meant to restart it, else from a minute before the last message the
        partition's lag row says was applied (what was applied is skipped by its intake id),
        else from the stream's start (a work-queue stream: from its first message, the
        first unacknowledged one). A failure raises: the partition is given back and taken
        again at the next beat, and this is tried again."""
        durable = messages.consumer_name(p)
        try:
            info = await js.consumer_info(self.stream, durable)
        except NotFoundError:
            info = None
        config = streams.consumer_config(self.prefix, p)
        if info is not None:
            if not info.num_ack_pending:
                self._restart.pop(p, None)
                return
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            self._restart[p] = floor + 1
            log.warning(
                "processor %s: partition %d: %d messages of a stopped processor unacknowledged; "
                "delivering again from #%d",
                self.id,
                p,
                info.num_ack_pending,
                floor + 1,
            )
            await js.delete_consumer(self.stream, durable)
        if self._work_queue:  # it holds only unacknowledged messages: from its first
            log.warning("processor %s: partition %d: consumer made again", self.id, p)
        elif p in self._restart:
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self._restart[p]
        else:
            through = await ctx.read(lambda c: cluster_partitions.applied_through(c, p))
            since = "the stream's start"
            if through:
                config.deliver_policy = api.DeliverPolicy.BY_START_TIME
                config.opt_start_time = from_micros(int(through) - RESTART_MARGIN_US)
                since = config.opt_start_time.isoformat()
            log.warning(
                "processor %s: partition %d: consumer missing; made again, delivering from %s",
                self.id,
                p,
                since,
            )
        await js.add_consumer(self.stream, config=config)
        self._restart.pop(p, None)

    async def _apply(self, ctx: AppContext, p: int, msgs: list[Any], stop: asyncio.Event) -> bool:
        """Apply a fetched batch and acknowledge it; True when done, False if stopped while the
        database was away (nothing acknowledged)."""
        readable = []
        for msg in msgs:
            try:
                readable.append((msg, read(msg.data)))
            except _Unreadable as exc:
                self.counts["unreadable"] += 1
                log.error(
                    "processor %s: partition %d: message %s cannot be read (%s); set aside: %s",
                    self.id,
                    p,
                    _seq(msg),
                    exc,
                    _shown(msg.data),
                )
                await msg.term()
        pause = RETRY_FIRST_SECONDS
        since: float | None = None
        while True:
            try:
                async with self._in_flight:
                    outcomes = await self._write(ctx, p, readable, msgs[-1])
                break
            except (StorageUnavailable, OutcomeUnknown) as exc:
                if since is None:
                    since = monotonic()
                    log.warning(
                        "processor %s: partition %d: database unavailable (%s); retrying",
                        self.id,
                        p,
                        exc,
                    )
                if stop.is_set():
                    return False
                for msg, _ in readable:  # still being worked on: not redelivered meanwhile
                    with contextlib.suppress(Exception):
                        await msg.in_progress()
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_SECONDS)
        if since is not None:
            log.warning(
                "processor %s: partition %d: database back after %.1f s",
                self.id,
                p,
                monotonic() - since,
            )
        for (msg, message), outcome in zip(readable, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                self.counts["failed"] += 1
                log.error(
                    "processor %s: partition %d: message %s (intake %s) failed (%s); set aside: %s",
                    self.id,
                    p,
                    _seq(msg),
                    message.id,
                    outcome,
                    _shown(msg.data),
                )
                await msg.term()
            else:
                await msg.ack()
        self.counts["batches"] += 1
        return True

    async def _write(
        self, ctx: AppContext, p: int, readable: list[tuple[Any, messages.IntakeMessage]], last: Any
    ) -> list[Any]:
        """The batch through the group committer: each message's outcome (None: done, or the
        exception of a request that failed alone). Raises StorageUnavailable / OutcomeUnknown
        if the database is away."""
        writes: list[Any] = []
        for _, message in readable:
            store = await self._store(ctx, message.store_id)
            if store is None:
                writes.append(None)
                continue
            try:
                prepared = rebuild(store, message, self.settings.ingest.max_event_bytes)
            except Exception as exc:
                writes.append(exc)
                continue
            writes.append(
                ctx.write(
                    _applier(prepared, message.received_at, ctx.recent_products),
                    (intake.warm, prepared),
                    weight=max(1, len(prepared.events)),
                )
            )
        lag = self._lag.setdefault(p, _Lag())
        if readable:
            lag.through = max(lag.through, readable[-1][1].received_at)
        lag.pending = int(getattr(last.metadata, "num_pending", 0) or 0)
        lag.dirty = True
        due = monotonic() - lag.written >= LAG_ROW_SECONDS
        results = await asyncio.gather(
            *(w for w in writes if w is not None and not isinstance(w, Exception)),
            *([ctx.write(self._lag_write(p, lag))] if due else []),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, StorageUnavailable | OutcomeUnknown):
                raise r
        outcomes: list[Any] = []
        it = iter(results)
        for w, (_, message) in zip(writes, readable, strict=True):
            if w is None:
                self.counts["unknown_store"] += 1
                log.warning(
                    "processor %s: partition %d: intake %s is for store %s, which does not "
                    "exist (any more); acknowledged",
                    self.id,
                    p,
                    message.id,
                    message.store_id,
                )
                outcomes.append(None)
                continue
            r = w if isinstance(w, Exception) else next(it)
            if isinstance(r, BaseException):
                outcomes.append(r)
            else:
                self.counts["applied"] += 1
                outcomes.append(None)
        return outcomes

    def _lag_write(self, p: int, lag: _Lag) -> Any:
        through, pending = lag.through, lag.pending

        def write(conn: Conn, now: int) -> None:
            cluster_partitions.write(conn, p, self.id, through, now, pending)
            lag.written = monotonic()
            lag.dirty = False

        return write

    async def _store(self, ctx: AppContext, store_id: str) -> StoreRecord | None:
        store = await ctx.get_store(store_id)
        if store is None:  # the cache may predate the store: ask the database itself
            ctx.forget_store(store_id)
            store = await ctx.get_store(store_id)
        return store


def _applier(prepared: intake.Prepared, received_at: int, recent: RecentWrites) -> Any:
    """The write of one message: applied at the time the collector received it, as the
    embedded mode applies a request (products this process wrote lately and unchanged are
    not written again)."""

    def write(conn: Conn, now: int) -> Any:
        return intake.apply_encoded(conn, prepared, received_at, recent)[0]

    return write


def _shown(data: bytes) -> str:
    """A set-aside message as the log keeps it (it leaves the stream when terminated)."""
    return f"{len(data)} bytes, {data[:SHOWN_BYTES]!r}" + ("..." if len(data) > SHOWN_BYTES else "")


def _seq(msg: Any) -> str:
    try:
        return f"#{msg.metadata.sequence.stream}"
    except Exception:
        return "?"


def read(data: bytes) -> messages.IntakeMessage:
    try:
        message = messages.decode(data)
        read_envelope(message.body)
    except Exception as exc:
        raise _Unreadable(str(exc) or type(exc).__name__) from None
    return message


def rebuild(store: StoreRecord, message: messages.IntakeMessage, max_event_bytes: int) -> Any:
    """The `Prepared` the collector judged: decoding is pure, given the time it received the
    request; then what the collector decided."""
    prepared = intake.prepare(
        store,
        read_envelope(message.body),
        message.body,
        ctx=CheckContext(
            now=from_micros(message.received_at), currency=store.currency, domains=store.domains
        ),
        max_event_bytes=max_event_bytes,
        channel=message.channel,
        origin=message.origin,
        bot=message.bot,
    )
    prepared.intake_id = message.id
    prepared.tracker_id = message.tracker_id
    prepared.decided = dict(message.purchases) or None
    return prepared
