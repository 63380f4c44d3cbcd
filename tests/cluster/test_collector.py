"""The collector (`shopevents collect`): the app whose ingest endpoint publishes to the
intake stream instead of writing. Real parts throughout: the tests' 3-node JetStream cluster
(or a single `nats-server` of the test's own, to stop it or fill its stream), PostgreSQL,
the app on a real port, the real CLI. No processor runs here: what the collector answers
and publishes is checked on its own (the processors' side: test_processor.py)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import psycopg
import pytest
from click.testing import CliRunner, Result

from shopevents import ids
from shopevents.app import create_app
from shopevents.cli import main
from shopevents.clock import SystemClock
from shopevents.cluster import claims, messages, streams
from shopevents.cluster.collector import ClusterIntake
from shopevents.config import Settings
from shopevents.context import AppContext
from shopevents.schema import models as m
from shopevents.schema.verdicts import CheckContext, decode_event
from shopevents.server import uvicorn_config
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import (
    CLUSTER,
    PromptServer,
    create_pg_database,
    drop_pg_database,
    example,
    ingest_path,
    make_store,
    pg_url_for,
)
from tests.dashboard.support import add_user, login, owner_hooks
from tests.natscluster import LoopThread, NatsCluster

pytestmark = pytest.mark.skipif(not CLUSTER, reason="cluster mode is not among the test modes")

SEED = example("seed-purchase.json")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg() -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own: its URL."""
    name = create_pg_database(migrated=True)
    yield pg_url_for(name)
    drop_pg_database(name)


def cluster_settings(base: Settings, urls: str, prefix: str, **kw: Any) -> Settings:
    return msgspec.structs.replace(
        base,
        cluster=msgspec.structs.replace(base.cluster, nats_urls=urls, prefix=prefix, **kw),
    )


class OwnNats:
    """One JetStream server of the test's own on a free port (R1), to stop and start."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> OwnNats:
        binary = shutil.which("nats-server")
        assert binary, "nats-server is not on PATH"
        log = open(self.directory / "nats.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            [binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnNats]:
    server = OwnNats(tmp_path).start()
    yield server
    server.stop()


class Collector:
    """What `shopevents collect` serves (the app with the cluster intake driver, no worker
    loop) on a real port, in a thread."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        c = settings.cluster

        def intake(ctx: AppContext) -> ClusterIntake:
            return ClusterIntake(
                ctx, c.nats_urls, c.prefix, publish_timeout=c.publish_timeout_seconds
            )

        self.app = create_app(settings, db, SystemClock(), worker=False, intake=intake)
        self.server = PromptServer(uvicorn_config(self.app, settings, loop="asyncio"))
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.socket])), daemon=True
        )

    def start(self) -> Collector:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)
        self.socket.close()

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", **kw)


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database", url, *args])


def one_line_error(result: Result, *hints: str) -> str:
    text = result.output + result.stderr
    assert "Traceback" not in text, text
    assert result.exit_code == 1, (result.exit_code, text)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for hint in hints:
        assert hint in errors[0], (hint, errors[0])
    return errors[0]


def stream_messages(loop: LoopThread, urls: str, prefix: str) -> list[tuple[str, Any]]:
    """(subject, decoded IntakeMessage) of every message of the prefix's stream, in order."""

    async def read() -> list[tuple[str, Any]]:
        nc = await nats.connect(servers=urls.split(","))
        try:
            js = nc.jetstream()
            name = messages.stream_name(prefix)
            info = await js.stream_info(name)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                if info.state.messages == 0:
                    break
                msg = await js.get_msg(name, seq)
                out.append((msg.subject, messages.decode(msg.data or b"")))
            return out
        finally:
            await nc.close()

    return loop.run(read())


PARTITIONS = 4


TRACKER = "5f0c1d2e3a4b5c6d7e8f9a0b"


@pytest.fixture
def collector(
    nats_cluster: NatsCluster, nats_loop: LoopThread, settings: Settings, pg: str
) -> Iterator[tuple[Collector, str, str]]:
    """A collector on the tests' 3-node cluster with a stream of its own (as `cluster init`
    makes it, replicas 3): (server, store id, prefix)."""
    prefix = f"c{uuid.uuid4().hex[:12]}"
    layout = streams.Layout(prefix=prefix, partitions=PARTITIONS, replicas=3, max_bytes=1 << 30)

    async def jetstream(work: Callable[[Any], Awaitable[Any]]) -> None:
        nc = await nats.connect(servers=nats_cluster.urls)
        try:
            await work(nc.jetstream())
        finally:
            await nc.close()

    async def delete(js: Any) -> None:
        await js.delete_stream(messages.stream_name(prefix))
        await js.delete_key_value(messages.bucket_name(prefix, "leases"))

    nats_loop.run(jetstream(lambda js: streams.init(js, layout)))
    conf = cluster_settings(settings, nats_cluster.url, prefix, partitions=PARTITIONS, replicas=3)
    db = Database(pg)
    store = make_store(db, "Shop")
    live = Collector(conf, db).start()
    yield live, store.id, prefix
    live.stop()
    db.close()
    nats_loop.run(jetstream(delete))


def test_purchase_verdicts_are_exact_and_published_with_the_request(
    collector: tuple[Collector, str, str], nats_loop: LoopThread, pg: str
) -> None:
    live, store_id, prefix = collector
    other = json.loads(SEED)
    other["events"][0]["purchase"]["totalPrice"] = 1.5
    other["events"][0]["purchase"]["products"][0]["unitPrice"] = 1.5
    with live.client(timeout=30) as http:
        answers = [
            http.post(ingest_path(store_id), content=body).json()
            for body in (SEED, SEED, json.dumps(other).encode())
        ]
        metrics = http.get("/metrics").text
    assert [a["results"][0]["status"] for a in answers] == ["accepted", "duplicate", "conflict"]
    tracker = answers[0]["trackerId"]
    assert len(tracker) == 24 and all(a["trackerId"] != tracker for a in answers[1:])

    published = stream_messages(nats_loop, live.ctx.settings.cluster.nats_urls, prefix)
    assert [m.purchases for _, m in published] == [
        {0: "accepted"},
        {0: "duplicate"},
        {0: "conflict"},
    ]
    subject, first = published[0]
    assert first.store_id == store_id and first.body == SEED and first.tracker_id == tracker
    # no tracker in the request: its partition is its contact's e-mail's, as any other
    # request naming that e-mail without a tracker
    key = json.loads(SEED)["entityInfo"]["primaryKey"]
    assert subject == messages.subject(prefix, messages.partition(store_id, key, PARTITIONS))
    assert len({m.id for _, m in published}) == 3
    # no processor runs: the three wait in the stream, and /metrics says so
    assert "shopevents_cluster_pending_messages 3\n" in metrics, metrics
    assert "shopevents_cluster_lag_seconds " in metrics
    with psycopg.connect(pg) as conn:  # the authority holds the first record's fingerprint
        rows = conn.execute("SELECT purchase_id FROM purchase_claims").fetchall()
        assert rows == [(json.loads(SEED)["events"][0]["purchase"]["purchaseId"],)]
        # nothing else was written: applying is the processors' work
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone() == (0,)


def test_a_repeated_request_id_is_answered_as_a_repeat_and_stored_once(
    collector: tuple[Collector, str, str], nats_loop: LoopThread
) -> None:
    live, store_id, prefix = collector

    def body(request_id: str, tracker: str | None) -> bytes:
        entity = {"trackerId": tracker} if tracker else {}
        return json.dumps(
            {"requestId": request_id, "entityInfo": entity, "events": [{"type": "page-visit"}]}
        ).encode()

    with live.client(timeout=30) as http:
        given = [http.post(ingest_path(store_id), content=body("req-1", TRACKER)) for _ in "ab"]
        minted = [http.post(ingest_path(store_id), content=body("req-2", None)) for _ in "ab"]
        other = http.post(ingest_path(store_id), content=body("req-3", None))
    for first, again in (given, minted):
        assert first.status_code == again.status_code == 200
        assert first.json()["results"][0]["status"] == "accepted"
        assert "duplicateRequest" not in first.json()
        assert again.json()["duplicateRequest"] is True
        assert again.json()["results"][0]["status"] == "duplicate"
        # the tracker of the answer is the same: given, or minted from the requestId
        assert again.json()["trackerId"] == first.json()["trackerId"]
    assert given[0].json()["trackerId"] == TRACKER
    assert minted[0].json()["trackerId"] == ids.keyed_tracker(store_id, "req-2")
    assert other.json()["trackerId"] not in (TRACKER, minted[0].json()["trackerId"])
    published = stream_messages(nats_loop, live.ctx.settings.cluster.nats_urls, prefix)
    # each repeat was kept once by the stream (its requestId is the message's id)
    assert [m.tracker_id for _, m in published] == [
        TRACKER,
        minted[0].json()["trackerId"],
        other.json()["trackerId"],
    ]


def test_cluster_init_is_idempotent_and_a_collector_answers_503_while_nats_is_down(
    own_nats: OwnNats, pg: str, settings: Settings
) -> None:
    init = ["cluster", "init", "--nats", own_nats.url, "--prefix", "solo", "--replicas", "1"]
    made = cli(pg, *init)
    assert made.exit_code == 0, made.output + made.stderr
    assert "stream SOLO_INTAKE: created (16 partitions, 1 replicas" in made.stdout
    again = cli(pg, *init)
    assert again.exit_code == 0 and "created" not in again.stdout, again.stdout
    assert "stream SOLO_INTAKE: exists (16 partitions, 1 replicas, 0 messages)" in again.stdout

    db = Database(pg)
    store = make_store(db, "Shop")
    conf = cluster_settings(settings, own_nats.url, "solo", publish_timeout_seconds=0.5)
    live = Collector(conf, db).start()
    try:
        with live.client(timeout=30) as http:
            assert http.post(ingest_path(store.id), content=SEED).status_code == 200
            own_nats.stop()
            fresh = json.loads(SEED)
            fresh["events"][0]["purchase"]["purchaseId"] = "bought-while-nats-was-down"
            body = json.dumps(fresh).encode()
            down = http.post(ingest_path(store.id), content=body)
            assert down.status_code == 503, down.text
            assert down.json()["code"] == "storage_unavailable"
            assert down.headers["Retry-After"] == str(settings.ingest.retry_after_seconds)
            own_nats.start()  # the collector reconnects by itself
            deadline = time.monotonic() + 30
            while (retry := http.post(ingest_path(store.id), content=body)).status_code != 200:
                assert retry.status_code == 503 and time.monotonic() < deadline, retry.text
                time.sleep(0.2)
            metrics = http.get("/metrics").text
        # the refused attempts gave their claim back: the retry that got through is the
        # purchase's first record, not a duplicate of one that never reached the stream
        assert retry.json()["results"][0]["status"] == "accepted"
        assert 'shopevents_cluster_publishes_total{outcome="failed"}' in metrics
    finally:
        live.stop()
        db.close()


def test_a_full_stream_refuses_new_requests_with_503(
    own_nats: OwnNats, pg: str, settings: Settings
) -> None:
    """The stream's size bound (discard policy new): once full, a request is refused, and
    every acknowledged one is still there."""
    conf = cluster_settings(settings, own_nats.url, "small", max_stream_bytes=1 << 20)

    async def init() -> None:
        nc = await nats.connect(own_nats.url)
        layout = streams.Layout(prefix="small", partitions=2, replicas=1, max_bytes=1 << 20)
        await streams.init(nc.jetstream(), layout)
        await nc.close()

    asyncio.run(init())
    db = Database(pg)
    store = make_store(db, "Shop")
    big = json.dumps(
        {"events": [{"type": "page-visit"}], "pageInfo": {"title": "x" * 300_000}}
    ).encode()
    live = Collector(conf, db).start()
    try:
        with live.client(timeout=30) as http:
            statuses = [http.post(ingest_path(store.id), content=big).status_code for _ in range(5)]
            purchase = {**json.loads(SEED), "pageInfo": {"title": "x" * 300_000}}
            refused = http.post(ingest_path(store.id), content=json.dumps(purchase).encode())
    finally:
        live.stop()
        db.close()
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [503, 503], statuses
    assert refused.status_code == 503 and "Retry-After" in refused.headers
    with psycopg.connect(pg) as conn:  # its purchase's claim was given back: a retry is new
        assert conn.execute("SELECT COUNT(*) FROM purchase_claims").fetchone() == (0,)

    async def count() -> int:
        nc = await nats.connect(own_nats.url)
        info = await nc.jetstream().stream_info(messages.stream_name("small"))
        await nc.close()
        return int(info.state.messages)

    assert asyncio.run(count()) == 3


def test_cluster_commands_say_what_is_wrong_in_one_line(own_nats: OwnNats, pg: str) -> None:
    one_line_error(
        cli(pg, "cluster", "init", "--nats", "nats://127.0.0.1:1", "--replicas", "1"),
        "cannot reach NATS at nats://127.0.0.1:1",
        "nats-server -js",
    )
    one_line_error(
        cli(pg, "cluster", "init", "--nats", own_nats.url, "--replicas", "3"),
        "cannot place 3 replicas",
        "--replicas 1",
    )
    for command in (["collect", "--port", str(free_port())], ["process"]):
        one_line_error(
            cli(pg, *command, "--nats", own_nats.url, "--prefix", "nothing_here"),
            "has no stream NOTHING_HERE_INTAKE",
            "shopevents cluster init",
            "--prefix nothing_here",
        )


def purchase_event(purchase_id: str, price: float) -> m.PurchaseEvent:
    """The seed's purchase under another purchaseId and price, decoded as the endpoint does."""
    raw = json.loads(SEED)["events"][0]
    raw["purchase"]["purchaseId"] = purchase_id
    raw["purchase"]["totalPrice"] = raw["purchase"]["products"][0]["unitPrice"] = price
    context = CheckContext(now=SystemClock().now())
    verdict = decode_event(json.dumps(raw).encode(), 0, context, 1 << 20)
    assert verdict.status == "accepted", verdict.result()
    event: m.PurchaseEvent = verdict.value[0]
    return event


def test_claims_decide_each_purchase_once_per_store(db: Database) -> None:
    """The authority on its own, on both backends: one statement claims a request's
    purchases; the same purchaseId again is a duplicate with the same content and a conflict
    with another, in the same request as across requests and collectors; other stores are
    apart."""
    store = make_store(db, "Shop")
    other = make_store(db, "Other")
    rec = db_store(db, store.id)

    def claim(store_id: str, *events: tuple[int, m.PurchaseEvent]) -> dict[int, str]:
        wanted = claims.wanted(rec, list(events))
        conn = db.connect()
        try:
            with conn.transaction():
                return claims.claim(conn, store_id, wanted, 1)
        finally:
            conn.close()

    a, a_other, b = purchase_event("A", 10.0), purchase_event("A", 11.0), purchase_event("B", 5.0)
    assert claim(store.id, (0, a), (1, a), (2, a_other), (3, b)) == {
        0: "accepted",
        1: "duplicate",
        2: "conflict",
        3: "accepted",
    }
    assert claim(store.id, (0, a_other), (1, b), (2, a)) == {
        0: "conflict",
        1: "duplicate",
        2: "duplicate",
    }
    assert claim(other.id, (0, a_other)) == {0: "accepted"}
    assert claim(store.id) == {}


def db_store(db: Database, store_id: str) -> Any:
    from shopevents.storage import stores

    with db.reader() as conn:
        return stores.get_store(conn, store_id)


def test_purchases_entering_the_ledger_otherwise_are_claimed_by_the_trigger(pg: str) -> None:
    """PostgreSQL: a purchase recorded by the REST API, an import or the embedded mode
    (any INSERT into purchases, COPY included) is claimed, so a collector then answers
    `duplicate` or `conflict` for it."""
    db = Database(pg)
    store = make_store(db, "Shop")
    rec = db_store(db, store.id)
    with psycopg.connect(pg) as conn:
        conn.execute(
            "INSERT INTO purchases (store_id, purchase_id, channel, purchased_at, received_at, "
            "total_price, total_quantity, currency, fingerprint, data) "
            "VALUES (%s, 'A', 'api', 1, 2, 3, 1, 'EUR', %s, '{}')",
            (store.id, claims.wanted(rec, [(0, purchase_event("A", 10.0))])[0][2]),
        )
    conn2 = db.connect()
    try:
        with conn2.transaction():
            wanted = claims.wanted(
                rec, [(0, purchase_event("A", 10.0)), (1, purchase_event("A", 12.0))]
            )
            assert claims.claim(conn2, store.id, wanted, 5) == {0: "duplicate", 1: "conflict"}
    finally:
        conn2.close()
        db.close()


def test_the_rest_api_reads_the_claims_before_a_processor_applied_the_purchase(
    collector: tuple[Collector, str, str], pg: str
) -> None:
    """A purchase a collector claimed and published (no processor runs, so the ledger does
    not have it yet) is a `duplicate` through the REST API with the same content and a
    `conflict` with other content, never a second `accepted`."""
    live, store_id, _ = collector
    db = Database(pg)
    conn = db.connect()
    try:
        with conn.transaction():
            key_id, secret = stores.create_api_key(conn, store_id, now=1)
    finally:
        conn.close()
        db.close()
    purchase = json.loads(SEED)["events"][0]["purchase"]
    other = {
        **purchase,
        "totalPrice": 1.5,
        "products": [{**purchase["products"][0], "unitPrice": 1.5}],
    }
    auth = {"Authorization": f"apiKey {key_id}:{secret}"}
    with live.client(timeout=30) as http:
        first = http.post(ingest_path(store_id), content=SEED)
        same = http.post("/api/purchases", json=purchase, headers=auth)
        changed = http.post("/api/purchases", json=other, headers=auth)
        new = http.post("/api/purchases", json={**purchase, "purchaseId": "rest-1"}, headers=auth)
    assert first.json()["results"][0]["status"] == "accepted"
    assert (same.status_code, same.json()["status"]) == (200, "duplicate"), same.text
    assert (changed.status_code, changed.json()["code"]) == (409, "purchase_conflict"), changed.text
    assert (new.status_code, new.json()["status"]) == (201, "accepted"), new.text
    with psycopg.connect(pg) as conn:
        claimed = conn.execute("SELECT purchase_id FROM purchase_claims ORDER BY 1").fetchall()
    assert claimed == sorted([(purchase["purchaseId"],), ("rest-1",)])


def test_the_dashboard_shows_the_processing_lag(
    collector: tuple[Collector, str, str], pg: str
) -> None:
    """No processor runs: what the collector acknowledged waits in the stream, and the
    dashboard's overview says how long and how much."""
    live, store_id, _ = collector
    db = Database(pg)
    try:
        add_user(db)
        with live.client(timeout=30, event_hooks=owner_hooks(db)) as web:
            for i in range(2):
                page_visit = {"events": [{"type": "page-visit"}], "requestId": f"lag-{i}"}
                assert web.post(ingest_path(store_id), json=page_visit).status_code == 200
            login(web)
            html = web.get(f"/stores/{store_id}/").text
    finally:
        db.close()
    shown = re.search(r"Processing lag: ([0-9.]+) s, 2 requests waiting", html)
    assert shown is not None, html[:3000]
    assert float(shown.group(1)) >= 0
