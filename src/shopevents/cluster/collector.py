"""Cluster mode's intake driver: what `shopevents collect` does with a decoded and judged
request instead of writing it. It answers exactly what the embedded mode answers from the
verdicts (`intake.answer`), after the request is safe in a replicated JetStream stream:

1. a request without a tracker gets one minted here (the processor gives it to the contact);
   for a request with a `requestId` the tracker is made from it (`ids.keyed_tracker`), so a
   repeat of the request is given the same one;
2. the accepted purchase events are claimed in PostgreSQL (`claims.claim`: one statement),
   which gives their `accepted` / `duplicate` / `conflict` verdicts;
3. the request is published to its partition's subject (by store and tracker, so one
   contact's requests are applied in order), with its `requestId` as its `Nats-Msg-Id`, and
   the collector waits for the stream's acknowledgement, which JetStream gives once a quorum
   of its replicas holds the message. A repeat of a `requestId` within the stream's duplicate
   window is not stored again and is answered as the embedded mode answers a repeat
   (`intake.replayed`: each event not rejected is a `duplicate`); a later repeat is stored
   and answered again from its content, and the processor applies it once (by `requestId`).

Any NATS failure (no server, no quorum, the stream full, a timeout) is `StorageUnavailable`:
`503` with `Retry-After`, never a `200` for a request that is not replicated."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from shopevents import ids
from shopevents.clock import monotonic
from shopevents.cluster import claims, messages, streams
from shopevents.cluster import nats as cluster_nats
from shopevents.context import AppContext
from shopevents.errors import StorageUnavailable
from shopevents.ingest import intake
from shopevents.jsoncodec import dumpb
from shopevents.schema import models as m

log = logging.getLogger("shopevents.cluster")

# How long `collect` tries to reach NATS when it starts.
FIRST_CONNECT_SECONDS = 10.0


def _partition_key(req: intake.Prepared, tracker: str | None) -> str | None:
    """The request's own tracker, else the e-mail that names its contact, else None."""
    if tracker:
        return tracker
    fields = req.entity.value.fields if req.entity and req.entity.status == "accepted" else None
    return req.email or (fields.primaryKey if fields else None)


def given_tracker(req: intake.Prepared) -> str | None:
    if req.entity is None or req.entity.status != "accepted":
        return None
    fields = req.entity.value.fields
    return fields.trackerId if fields else None


class _PubAck(msgspec.Struct):
    duplicate: bool = False
    error: dict[str, Any] | None = None


_pub_ack = msgspec.json.Decoder(_PubAck)

# How often waits past their deadline are failed (`Replies`).
SWEEP_SECONDS = 0.05


class Replies:
    """JetStream publishes whose acknowledgements come back on one subscription of this
    collector's own: a future per publish, keyed by its reply subject, and one sweeper that
    fails the ones past their deadline. It does what nats-py's `js.publish` does (a
    subscription and a timer per request) for a fraction of its CPU."""

    def __init__(self, nc: Client, timeout: float) -> None:
        self.nc = nc
        self.timeout = timeout
        self.inbox = nc.new_inbox()
        # In the order sent, so in the order of their deadlines.
        self.waiting: dict[str, tuple[float, asyncio.Future[Msg]]] = {}
        self.sent = 0
        self.sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.nc.subscribe(self.inbox + ".*", cb=self._replied)
        self.sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweeper

    async def _replied(self, msg: Msg) -> None:
        found = self.waiting.pop(msg.subject, None)
        if found is not None and not found[1].done():
            found[1].set_result(msg)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = monotonic()
            while self.waiting:
                reply, (deadline, future) = next(iter(self.waiting.items()))
                if deadline > now:
                    break
                del self.waiting[reply]
                if not future.done():
                    future.set_exception(TimeoutError())

    async def send(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> asyncio.Future[Msg]:
        """Send a request; its reply (or TimeoutError) comes on the future."""
        self.sent += 1
        reply = f"{self.inbox}.{self.sent}"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self.waiting[reply] = (monotonic() + self.timeout, future)
        try:
            await self.nc.publish(subject, payload, reply=reply, headers=headers)
        except BaseException:
            self.waiting.pop(reply, None)
            raise
        return future


def published(msg: Msg) -> bool:
    """A publish's acknowledgement: whether the stream already had the message (by its
    `Nats-Msg-Id`). Raises NoRespondersError (no stream) or APIError (refused: the stream
    full, no quorum)."""
    if msg.headers and msg.headers.get("Status") == "503":
        raise nats.errors.NoRespondersError
    try:
        ack = _pub_ack.decode(msg.data)
    except msgspec.DecodeError:
        raise APIError(description=f"unreadable acknowledgement {msg.data[:80]!r}") from None
    if ack.error is not None:
        APIError.from_error(ack.error)  # raises
    return ack.duplicate


class ClusterIntake:
    """The intake service of a collector (see `context.IntakeService`)."""

    applies = False  # a processor rebuilds the request from its body and applies it

    def __init__(
        self,
        ctx: AppContext,
        urls: str,
        prefix: str,
        *,
        publish_timeout: float,
        name: str = "shopevents collect",
        first_wait: float = FIRST_CONNECT_SECONDS,
    ) -> None:
        self.ctx = ctx
        self.urls = urls
        self.prefix = prefix
        self.timeout = publish_timeout
        self.name = name
        self.first_wait = first_wait
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.replies: Replies | None = None
        self.partitions = 0

    async def start(self) -> None:
        """Connect and read the stream's partitions; `streams.NotInitialised` without a stream
        (`cluster init` not run), `nats.errors.NoServersError` if no server answers."""
        self.nc = await cluster_nats.connect(
            self.urls, name=self.name, persistent=True, first_wait=self.first_wait
        )
        self.js = self.nc.jetstream(timeout=self.timeout)
        self.partitions = await streams.partitions(self.js, self.prefix)
        self.replies = Replies(self.nc, self.timeout)
        await self.replies.start()

    async def close(self) -> None:
        if self.replies is not None:
            await self.replies.close()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    async def submit(self, prepared: intake.Prepared, weight: int) -> tuple[dict[str, Any], bytes]:
        if self.replies is None:
            raise StorageUnavailable("not connected to NATS JetStream yet")
        try:
            return await self._submit(prepared, self.replies)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            self.ctx.count("cluster_publishes", "failed")
            raise StorageUnavailable(f"NATS JetStream: {_said(exc)}") from None

    async def _submit(self, req: intake.Prepared, replies: Replies) -> tuple[dict[str, Any], bytes]:
        ctx, store = self.ctx, req.store
        now = ctx.now_us()
        given = given_tracker(req)
        tracker = given or (
            ids.keyed_tracker(store.id, req.request_key) if req.request_key else ids.new_id(now)
        )
        purchase_events = [
            (v.index, v.value[0])
            for v in req.events
            if v.status == "accepted" and isinstance(v.value[0], m.PurchaseEvent)
        ]
        decided: dict[int, str] = {}
        wanted = claims.wanted(store, purchase_events)
        if wanted:
            decided = await ctx.write(lambda conn, t: claims.claim(conn, store.id, wanted, t))
        message = messages.IntakeMessage(
            id=ids.token(16),
            store_id=store.id,
            received_at=now,
            channel=req.channel,
            body=req.body,
            tracker_id=tracker,
            origin=req.origin,
            bot=req.bot,
            purchases=decided,
        )
        part = messages.partition(store.id, _partition_key(req, given) or tracker, self.partitions)
        try:
            ack = await replies.send(
                messages.subject(self.prefix, part),
                messages.encode(message),
                {"Nats-Msg-Id": f"{store.id}:{req.request_key}" if req.request_key else message.id},
            )
            duplicate = published(await ack)
        except (nats.errors.Error, TimeoutError, OSError):
            # Not acknowledged (refused, or no answer in time): the request is answered 503
            # and its client sends it again. The purchases it claimed are given back, so
            # that the retry is `accepted` and carries them to the ledger. Had the stream
            # kept the message after all, both are `accepted` and the ledger records the
            # first one applied (the other finds it there, with the same fingerprint).
            mine = [i for i in wanted if decided.get(i[0]) == claims.ACCEPTED]
            if mine:
                with contextlib.suppress(StorageUnavailable):
                    await ctx.write(lambda conn, t: claims.release(conn, store.id, mine))
            raise
        ctx.count("cluster_publishes", "duplicate" if duplicate else "ok")
        answer = intake.answer(req, tracker, decided)
        if duplicate:  # the same requestId, stored moments ago: answered as a repeat
            return intake.replayed(dumpb(answer))
        return answer, dumpb(answer)

    async def backlog(self) -> dict[int, tuple[int, int | None]] | None:
        """Per partition: the messages processors have not acknowledged yet and the
        collector's receive time (µs) of the oldest of them, read from the consumers and the
        stream; None if JetStream does not answer within the publish timeout."""
        js = self.js
        if js is None:
            return None
        name = messages.stream_name(self.prefix)

        async def one(part: int) -> tuple[int, int | None]:
            info = await js.consumer_info(name, messages.consumer_name(part))
            waiting = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            if not waiting:
                return 0, None
            floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
            try:
                raw = await js.get_msg(
                    name, floor + 1, subject=messages.subject(self.prefix, part), next=True
                )
            except NotFoundError:
                return waiting, None
            return waiting, messages.decode(raw.data or b"").received_at

        try:
            found = await asyncio.wait_for(
                asyncio.gather(*(one(p) for p in range(self.partitions))), self.timeout
            )
        except (nats.errors.Error, TimeoutError, OSError, ValueError):
            return None
        return dict(enumerate(found))


def _said(exc: BaseException) -> str:
    description = getattr(exc, "description", None)
    return str(description or exc or type(exc).__name__)
