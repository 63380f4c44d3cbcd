"""The cluster processor against a real 3-node JetStream cluster and PostgreSQL: messages
published as a collector publishes them are applied in stream order per partition, a
redelivery changes nothing, partitions move to another processor when one stops, a message
that cannot be read is set aside and logged, the lag row is written."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import psycopg
import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import KeyNotFoundError, NotFoundError, ServiceUnavailableError

from shopevents.clock import SystemClock, to_micros
from shopevents.cluster import messages, streams
from shopevents.cluster.processor import Processor, rebuild
from shopevents.config import ClusterSettings, Settings, WorkerSettings
from shopevents.ingest import intake
from shopevents.storage import stores
from shopevents.storage.database import Conn, Database
from shopevents.storage.stores import StoreRecord
from tests.natscluster import ClusterSession
from tests.shop import cart, line, purchase

PARTITIONS = 4


class Stream:
    """A stream prefix of this test's own on the worker's NATS cluster (made by `cluster
    init`'s code, from the session's pool); publishes messages as a collector does, and
    waits for the processors."""

    def __init__(self, session: ClusterSession) -> None:
        assert session.PARTITIONS == PARTITIONS
        self.session = session
        self.loop = session.loop
        self.prefix = session.take()
        self.urls = session.nats.url
        self.name = messages.stream_name(self.prefix)
        self.js: Any = session.js

    def settings(self) -> Settings:
        return Settings(
            worker=WorkerSettings(enabled=False),
            cluster=ClusterSettings(
                nats_urls=self.urls, prefix=self.prefix, partitions=PARTITIONS, replicas=3
            ),
        )

    def publish(self, message: messages.IntakeMessage) -> int:
        return self.publish_raw(
            messages.partition(message.store_id, message.tracker_id, PARTITIONS),
            messages.encode(message),
        )

    def publish_raw(self, part: int, data: bytes) -> int:
        async def go() -> int:
            ack = await self.js.publish(
                messages.subject(self.prefix, part),
                data,
                headers={"Nats-Msg-Id": uuid.uuid4().hex},
            )
            return int(ack.seq)

        return self.loop.run(go())

    async def _last(self, p: int) -> int:
        """The stream sequence of the partition's last message still in the stream (0: none)."""
        try:
            return int(
                (await self.js.get_last_msg(self.name, messages.subject(self.prefix, p))).seq
            )
        except NotFoundError:
            return 0

    async def _behind(self) -> list[str]:
        """What is not applied yet. A consumer just made again can say it has nothing pending
        before it has counted its messages, so its acknowledgement floor must also have
        reached its partition's last message."""
        out = []
        for p in range(PARTITIONS):
            try:
                last = await self._last(p)
                c = await self.js.consumer_info(self.name, messages.consumer_name(p))
            except (NotFoundError, NatsTimeout, ServiceUnavailableError):
                # being made again by a processor taking over (or JetStream busy electing)
                out.append(f"part-{p}: being made again")
                continue
            floor = c.ack_floor.stream_seq if c.ack_floor else 0
            if c.num_pending or c.num_ack_pending or floor < last:
                out.append(
                    f"part-{p}: {c.num_pending} pending, {c.num_ack_pending} unacked, "
                    f"acknowledged through #{floor} of #{last}"
                )
        return out

    def settle(self, timeout: float = 30) -> None:
        """Until every message published is acknowledged (or set aside)."""

        async def go() -> None:
            deadline = time.monotonic() + timeout
            while behind := await self._behind():
                if time.monotonic() > deadline:
                    raise AssertionError(f"not applied within {timeout:g} s: {behind}")
                await asyncio.sleep(0.01)

        self.loop.run(go(), timeout + 10)

    def fetch_unacked(self, part: int, n: int) -> list[Any]:
        """Take `n` messages of a partition as a processor would, and never acknowledge them
        (a processor that dies with its batch in hand)."""

        async def go() -> list[Any]:
            sub = await self.js.pull_subscribe_bind(messages.consumer_name(part), self.name)
            got: list[Any] = []
            try:  # a fetch gives what has arrived so far: fetch again until all are in hand
                while len(got) < n:
                    got += await sub.fetch(n - len(got), timeout=5)
            finally:
                await sub.unsubscribe()
            return got

        return self.loop.run(go())

    def leases(self) -> dict[str, str]:
        """The partitions' leases: key → holder."""

        async def go() -> dict[str, str]:
            kv = await self.js.key_value(messages.bucket_name(self.prefix, "leases"))
            out = {}
            for p in range(PARTITIONS):
                try:
                    entry = await kv.get(f"p{p}")
                except KeyNotFoundError:
                    continue
                if entry.value:
                    out[f"p{p}"] = entry.value.decode()
            return out

        return self.loop.run(go())

    def unacknowledged(self, part: int) -> int:
        async def go() -> int:
            info = await self.js.consumer_info(self.name, messages.consumer_name(part))
            return int(info.num_ack_pending)

        return self.loop.run(go())

    def stop(self) -> None:
        self.session.release(self.prefix)


@pytest.fixture
def pg(db: Database, mode: str) -> Database:
    if mode != "postgres":
        pytest.skip("processors run on PostgreSQL")
    return db


@pytest.fixture
def stream(cluster_session: ClusterSession) -> Iterator[Stream]:
    s = Stream(cluster_session)
    yield s
    s.stop()


@pytest.fixture
def store(pg: Database) -> StoreRecord:
    conn = pg.connect()
    try:
        with conn.transaction():
            rec = stores.create_store(conn, "Cluster shop", now=to_micros(SystemClock().now()))
    finally:
        conn.close()
    return rec


@pytest.fixture
def processors(pg: Database, stream: Stream) -> Iterator[Callable[[], Processor]]:
    started: list[Processor] = []

    def start() -> Processor:
        p = Processor(stream.settings(), pg, SystemClock(), worker=False).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


_t = [to_micros(SystemClock().now())]


def message(
    store: StoreRecord,
    tracker: str,
    events: list[dict[str, Any]],
    *,
    cart_: dict[str, Any] | None = None,
    email: str | None = None,
    purchases: dict[int, str] | None = None,
) -> messages.IntakeMessage:
    """A request as a collector publishes it (its receive times one millisecond apart)."""
    body: dict[str, Any] = {"events": events, "entityInfo": {"trackerId": tracker}}
    if email:
        body["entityInfo"]["primaryKey"] = email
    if cart_ is not None:
        body["cart"] = cart_
    _t[0] += 1000
    return messages.IntakeMessage(
        id=uuid.uuid4().hex,
        store_id=store.id,
        received_at=_t[0],
        channel="browser",
        body=msgspec.json.encode(body),
        tracker_id=tracker,
        purchases=purchases or {},
    )


def q(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    with db.reader() as conn:
        return [tuple(r) for r in conn.all(sql, params)]


def state(db: Database, store: StoreRecord) -> dict[str, Any]:
    """Everything a request writes, counted, and the contacts' aggregates."""
    sid = store.id
    out: dict[str, Any] = {}
    for table in (
        "requests",
        "events",
        "trackers",
        "carts",
        "purchases",
        "purchase_conflicts",
        "merges",
        "activities",
        "outbox",
    ):
        out[table] = q(db, f"SELECT COUNT(*) FROM {table} WHERE store_id = ?", (sid,))[0][0]
    out["contacts"] = q(
        db,
        "SELECT email, merged_into IS NULL, total_purchases, total_amount FROM contacts "
        "WHERE store_id = ? ORDER BY email",
        (sid,),
    )
    return out


def test_a_partition_is_applied_in_stream_order(
    pg: Database, stream: Stream, store: StoreRecord, processors: Callable[[], Processor]
) -> None:
    processor = processors()
    sent = []
    for i in range(1, 31):  # two visitors: one partition each, or both in one
        for tracker in ("ta", "tb"):
            m = message(
                store, tracker, [{"type": "page-visit"}], cart_=cart(f"c-{tracker}", line("A", i))
            )
            stream.publish(m)
            sent.append(m)
    stream.settle()
    applied = q(
        pg,
        "SELECT intake_id, received_at FROM requests WHERE store_id = ? ORDER BY id",
        (store.id,),
    )
    for tracker in ("ta", "tb"):
        mine = {m.id for m in sent if m.tracker_id == tracker}
        order = [r for r in applied if r[0] in mine]
        assert order == [(m.id, m.received_at) for m in sent if m.tracker_id == tracker]
    # Each cart ends with the last snapshot sent (30 of A), applied last.
    rows = q(
        pg,
        "SELECT cart_id, total_quantity FROM carts WHERE store_id = ? ORDER BY cart_id",
        (store.id,),
    )
    assert rows == [("c-ta", 30), ("c-tb", 30)]
    assert processor.counts["applied"] == 60
    # The lag row of each partition used (written at most once a second): the last message's
    # receive time, nothing pending.
    expected: dict[int, tuple[str, int, int]] = {}
    for m in sent:
        p = messages.partition(store.id, m.tracker_id, PARTITIONS)
        expected[p] = (processor.id, max(m.received_at, expected.get(p, ("", 0, 0))[1]), 0)
    _until(lambda: {p: _lag(pg).get(p) for p in expected} == expected, "the lag rows")


def _lag(db: Database) -> dict[int, tuple[Any, ...]]:
    rows = q(db, "SELECT partition, processor, applied_through, pending FROM cluster_partitions")
    return {r[0]: r[1:] for r in rows}


def _story(store: StoreRecord) -> list[messages.IntakeMessage]:
    """An anonymous visitor with a cart, who logs in as a known customer (a merge), buys
    (accepted) and sends the purchase again (duplicate), with a changed copy (conflict). The
    two trackers are of one partition, so the story is applied in the order told."""
    part = messages.partition(store.id, "known", PARTITIONS)
    anon = next(
        t
        for t in (f"anon{i}" for i in range(100))
        if messages.partition(store.id, t, PARTITIONS) == part
    )
    bought = purchase("P1", line("A", 2), cart_id="c1")
    changed = purchase("P1", line("A", 3), cart_id="c1")
    return [
        message(store, "known", [{"type": "page-visit"}], email="a@x.example"),
        message(store, anon, [{"type": "page-visit"}], cart_=cart("c1", line("A", 2))),
        message(store, anon, [{"type": "page-visit"}], email="a@x.example"),
        message(store, anon, [bought], purchases={0: "accepted"}),
        message(store, anon, [bought], purchases={0: "duplicate"}),
        message(store, anon, [changed], purchases={0: "conflict"}),
    ]


def test_a_redelivered_message_changes_nothing(
    pg: Database, stream: Stream, store: StoreRecord, processors: Callable[[], Processor]
) -> None:
    story = _story(store)
    processor = processors()
    for m in story:
        stream.publish(m)
    stream.settle()
    before = state(pg, store)
    assert before["requests"] == 6 and before["purchases"] == 1
    assert before["contacts"] == [("a@x.example", True, 1, "20"), (None, False, 0, "0")]
    assert q(pg, "SELECT COUNT(*) FROM purchase_conflicts")[0][0] == 1
    for m in story:  # every message delivered again, as after a crash before its ack
        stream.publish(m)
    stream.settle()
    assert state(pg, store) == before
    assert processor.counts["applied"] == 12  # each went through the intake service again


def test_a_batch_committed_by_a_processor_that_died_before_its_ack_changes_nothing(
    pg: Database, stream: Stream, store: StoreRecord, processors: Callable[[], Processor]
) -> None:
    story = [
        message(store, "one", [{"type": "page-visit"}], cart_=cart("c1", line("A", i)))
        for i in range(1, 11)
    ]
    story.append(
        message(
            store, "one", [purchase("P1", line("A", 10), cart_id="c1")], purchases={0: "accepted"}
        )
    )
    part = messages.partition(store.id, "one", PARTITIONS)
    for m in story:
        stream.publish(m)
    # A processor took the whole batch, committed the first 7 requests, then died: no ack.
    taken = stream.fetch_unacked(part, len(story))
    assert len(taken) == len(story)
    conn: Conn = pg.connect()
    try:
        prepared = [rebuild(store, messages.decode(msg.data), 32768) for msg in taken[:7]]
        with conn.transaction(pipelined=True):
            intake.warm(conn, prepared)
            for p, m in zip(prepared, story, strict=False):
                intake.apply_encoded(conn, p, m.received_at)
    finally:
        conn.close()
    # Another processor takes the partition: the batch comes again at once, in order.
    processor = processors()
    stream.settle()
    assert processor.counts["applied"] == len(story)
    after = state(pg, store)
    assert after["requests"] == len(story)
    assert after["purchases"] == 1
    assert q(pg, "SELECT state FROM carts WHERE store_id = ?", (store.id,)) == [("purchased",)]
    ids = [
        r[0]
        for r in q(pg, "SELECT intake_id FROM requests WHERE store_id = ? ORDER BY id", (store.id,))
    ]
    assert ids == [m.id for m in story]


def test_a_second_processor_takes_over_the_partitions_of_a_stopped_one(
    pg: Database, stream: Stream, store: StoreRecord, processors: Callable[[], Processor]
) -> None:
    first = processors()
    _until(lambda: len(first.owned()) == PARTITIONS, "the first processor holds every partition")
    second = processors()
    _until(
        lambda: len(first.owned()) == len(second.owned()) == PARTITIONS // 2,
        "the two processors share the partitions",
    )
    assert first.owned().isdisjoint(second.owned())
    first.stop()
    _until(lambda: len(second.owned()) == PARTITIONS, "the second takes the first's partitions")
    trackers = [f"t{i}" for i in range(40)]
    assert {messages.partition(store.id, t, PARTITIONS) for t in trackers} == set(range(PARTITIONS))
    for t in trackers:
        stream.publish(message(store, t, [{"type": "page-visit"}]))
    stream.settle()
    assert state(pg, store)["requests"] == 40
    assert second.counts["applied"] == 40


def test_a_message_that_cannot_be_read_is_set_aside_and_logged(
    pg: Database,
    stream: Stream,
    store: StoreRecord,
    processors: Callable[[], Processor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor = processors()
    good = message(store, "t1", [{"type": "page-visit"}])
    part = messages.partition(store.id, "t1", PARTITIONS)
    with caplog.at_level(logging.ERROR, logger="shopevents.processor"):
        bad_seq = stream.publish_raw(part, b"\x93not a message")
        stream.publish(good)
        gone = messages.IntakeMessage(
            id=uuid.uuid4().hex,
            store_id="no-such-store",
            received_at=1,
            channel="browser",
            body=b'{"events": []}',
            tracker_id="t1",
        )
        stream.publish(gone)
        stream.settle()
    assert processor.counts["unreadable"] == 1
    assert processor.counts["unknown_store"] == 1
    assert [r[0] for r in q(pg, "SELECT intake_id FROM requests")] == [good.id]
    said = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(said) == 1 and f"#{bad_seq}" in said[0] and "not a message" in said[0]
    info = stream.loop.run(stream.js.stream_info(stream.name))
    assert info.state.messages == 0  # terminated, it left the stream: the log keeps it


def _until(check: Callable[[], bool], what: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


def test_the_database_away_keeps_the_messages_and_the_processor_resumes(
    pg: Database,
    stream: Stream,
    store: StoreRecord,
    processors: Callable[[], Processor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor = processors()
    stream.publish(message(store, "t0", [{"type": "page-visit"}]))
    stream.settle()  # connected, and the store known
    name = pg.target.rsplit("/", 1)[-1]
    admin = psycopg.connect(pg.url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    try:
        with caplog.at_level(logging.WARNING, logger="shopevents.processor"):
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            sent = [message(store, f"t{i}", [{"type": "page-visit"}]) for i in range(1, 9)]
            for m in sent:
                stream.publish(m)
            _until(
                lambda: any("database unavailable" in r.getMessage() for r in caplog.records),
                "the processor finds the database away",
            )
            # Nothing is acknowledged while the database is away.
            assert stream.loop.run(stream._behind())
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        stream.settle()
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
    pg.close()  # its pooled connections were ended with the others
    ids = {r[0] for r in q(pg, "SELECT intake_id FROM requests WHERE store_id = ?", (store.id,))}
    assert {m.id for m in sent} <= ids
    assert processor.counts["applied"] == 9
    assert any("database back" in r.getMessage() for r in caplog.records)


def test_a_killed_processors_partitions_and_messages_are_taken_over(
    pg: Database, stream: Stream, store: StoreRecord, processors: Callable[[], Processor]
) -> None:
    """`kill -9` of a `shopevents process` holding fetched, unacknowledged messages (the
    database was away): its leases expire, another processor takes its partitions and
    applies every message once."""
    command = ["--database", pg.url, "process", "--nats", stream.urls, "--prefix", stream.prefix]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopevents", *command, "--no-worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    name = pg.target.rsplit("/", 1)[-1]
    admin = psycopg.connect(pg.url.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    try:
        _until(lambda: len(stream.leases()) == PARTITIONS, "the process holds every partition")
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        sent = [message(store, f"t{i}", [{"type": "page-visit"}]) for i in range(20)]
        for m in sent:
            stream.publish(m)
        used = {messages.partition(store.id, m.tracker_id, PARTITIONS) for m in sent}
        assert used == set(range(PARTITIONS))
        _until(  # each partition's first batch in hand, kept from redelivery, unacknowledged
            lambda: all(stream.unacknowledged(p) > 0 for p in used), "the process fetched"
        )
        proc.kill()
        proc.wait(10)
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        pg.close()  # its pooled connections were ended with the others
        taker = processors()
        # Waited for on the database: JetStream (2.9) can go on answering for the deleted
        # consumer, unacknowledged message and all, until its acknowledgement timeout, though
        # the taker made it again and applied everything right away. A message delivered to
        # a fetch that had given up (a loaded machine) comes again after that timeout: allow
        # for that twice.
        _until(
            lambda: taker.counts["applied"] >= len(sent),
            "the taker applied every message",
            timeout=3 * streams.ACK_WAIT_SECONDS,
        )
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    applied = q(pg, "SELECT intake_id FROM requests WHERE store_id = ?", (store.id,))
    assert sorted(r[0] for r in applied) == sorted(m.id for m in sent)
    assert taker.counts["applied"] == len(sent)
    assert taker.owned() == set(range(PARTITIONS))


def test_a_missing_consumer_is_made_again_and_nothing_is_applied_twice(
    pg: Database, stream: Stream, store: StoreRecord, processors: Callable[[], Processor]
) -> None:
    """A consumer left deleted (its re-making cut short by a crash or a leader election) is
    made again by the processor that takes the partition: the stream (a work queue) holds
    only what was not acknowledged, and that is applied, in order, once."""
    first = processors()
    sent = [message(store, "one", [{"type": "page-visit"}]) for _ in range(5)]
    for m in sent:
        stream.publish(m)
    stream.settle()
    first.stop()
    part = messages.partition(store.id, "one", PARTITIONS)
    stream.loop.run(stream.js.delete_consumer(stream.name, messages.consumer_name(part)))
    later = [message(store, "one", [{"type": "page-visit"}]) for _ in range(3)]
    for m in later:
        stream.publish(m)
    second = processors()
    stream.settle()
    ids = [
        r[0]
        for r in q(pg, "SELECT intake_id FROM requests WHERE store_id = ? ORDER BY id", (store.id,))
    ]
    assert ids == [m.id for m in sent + later]
    assert second.counts["applied"] == len(later)
    info = stream.loop.run(stream.js.stream_info(stream.name))
    assert info.state.messages == 0  # acknowledged: gone from the stream
