"""One tenant cannot stall the others through webhooks, on SQLite and PostgreSQL: the endpoint
limit per store (REST, CLI, dashboard), fan-out in bounded transactions, and claims that use
indexes whatever the backlog (checked on the real query plans)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from shopevents.clock import FixedClock, SystemClock, to_micros
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.ids import delivery_id
from shopevents.storage import webhook_claims, webhook_dispatch, webhook_leases
from shopevents.storage.database import Conn, Database
from shopevents.webhooks import attempts, claims, dispatch, endpoints
from shopevents.webhooks.worker import worker_steps
from tests.cli.test_webhooks_cli import Cli
from tests.conftest import LiveServer, StoreInfo, example, ingest_path, make_store
from tests.webhooks_receiver import Kit, Receiver


def live_server(db: Database, **hooks: object) -> LiveServer:
    options: dict[str, object] = {"allow_private_addresses": True, "timeout_seconds": 2.0}
    options.update(hooks)
    settings = Settings(
        worker=WorkerSettings(enabled=True, interval_seconds=0.05),
        webhooks=WebhookSettings(**options),  # type: ignore[arg-type]
    )
    server = LiveServer(settings, db, SystemClock())
    server.app.state.worker_steps = worker_steps(server.ctx)
    return server.start()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for rec in made:
        rec.stop()


def receiver(made: list[Receiver]) -> Receiver:
    rec = Receiver().start()
    made.append(rec)
    return rec


def wait_until(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


# --- the endpoint limit -------------------------------------------------------------------


def test_rest_refuses_an_endpoint_past_the_limit(db: Database, store: StoreInfo) -> None:
    server = live_server(db, max_endpoints_per_store=2)
    other = make_store(db, "Other store")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            body = {"url": "https://erp.example.com/hook", "topics": ["purchase.created"]}
            for _ in range(2):
                r = api.post("/api/webhooks", json=body, headers=store.auth)
                assert r.status_code == 201, r.text
            refused = api.post("/api/webhooks", json=body, headers=store.auth)
            assert refused.status_code == 409, refused.text
            got = refused.json()
            assert got["status"] == 409
            assert got["code"] == "too_many_webhook_endpoints"
            assert "2" in got["message"] and "webhooks.max_endpoints_per_store" in got["message"]
            assert got["limit"] == 2
            assert isinstance(got["errors"], list)
            listed = api.get("/api/webhooks", headers=store.auth).json()["items"]
            assert len(listed) == 2  # nothing was written
            # The limit is per store: another store still registers its own.
            assert api.post("/api/webhooks", json=body, headers=other.auth).status_code == 201
            # Removing one makes room again.
            r = api.delete(f"/api/webhooks/{listed[0]['id']}", headers=store.auth)
            assert r.status_code == 204
            assert api.post("/api/webhooks", json=body, headers=store.auth).status_code == 201
    finally:
        server.stop()


def test_cli_refuses_an_endpoint_past_the_limit(
    db: Database, store: StoreInfo, clock: FixedClock
) -> None:
    cli = Cli(db, clock)
    limited = cli.env.settings.webhooks.max_endpoints_per_store
    assert limited == WebhookSettings().max_endpoints_per_store == 25
    conn = db.connect()
    try:
        with conn.transaction():
            for i in range(limited):
                endpoints.create_endpoint(
                    conn,
                    store.id,
                    f"https://erp.example.com/hook/{i}",
                    ["ping"],
                    to_micros(clock.now()),
                    allow_private=True,
                )
    finally:
        conn.close()
    result = cli(
        "add", "https://erp.example.com/one-more", "--store", store.id, "--topic", "ping", ok=False
    )
    assert result.exit_code == 1
    assert "25 webhook endpoints" in result.output
    assert "webhooks.max_endpoints_per_store" in result.output
    count = db.connect()
    try:
        assert endpoints.endpoint_count(count, store.id) == limited
    finally:
        count.close()


def test_dashboard_refuses_an_endpoint_past_the_limit(db: Database, store: StoreInfo) -> None:
    from tests.dashboard.support import add_user, login, start_server

    settings = Settings(
        worker=WorkerSettings(enabled=False),
        webhooks=WebhookSettings(allow_private_addresses=True, max_endpoints_per_store=1),
    )
    server = start_server(settings, db, FixedClock())
    add_user(db)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as web:
            csrf = login(web)
            form = {"csrf": csrf, "url": "https://erp.example.com/hook", "topics": "ping"}
            first = web.post(f"/stores/{store.id}/webhooks", data=form)
            assert first.status_code == 200, first.text[:500]
            second = web.post(f"/stores/{store.id}/webhooks", data=form)
            assert second.status_code == 409
            assert "already has 1 webhook endpoints" in second.text
            assert "webhooks.max_endpoints_per_store" in second.text
    finally:
        server.stop()
    conn = db.connect()
    try:
        assert endpoints.endpoint_count(conn, store.id) == 1
    finally:
        conn.close()


def test_create_path_checks_the_limit(db: Database, store: StoreInfo) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            for i in range(3):
                endpoints.create_endpoint(
                    conn,
                    store.id,
                    f"https://e.example/{i}",
                    ["ping"],
                    1,
                    allow_private=True,
                    max_endpoints=3,
                )
        with pytest.raises(endpoints.EndpointLimitError) as caught, conn.transaction():
            endpoints.create_endpoint(
                conn,
                store.id,
                "https://e.example/x",
                ["ping"],
                1,
                allow_private=True,
                max_endpoints=3,
            )
        assert caught.value.limit == 3
        assert endpoints.endpoint_count(conn, store.id) == 3
    finally:
        conn.close()


# --- fan-out in bounded transactions ------------------------------------------------------


@pytest.fixture
def kit(db: Database, store: StoreInfo, clock: FixedClock) -> Iterator[Kit]:
    settings = Settings(
        worker=WorkerSettings(enabled=False),
        webhooks=WebhookSettings(allow_private_addresses=True, timeout_seconds=2.0),
    )
    k = Kit(db, store.id, clock, settings)
    yield k
    k.close()


def test_fan_out_writes_a_bounded_number_of_deliveries_per_transaction(kit: Kit) -> None:
    ids = sorted(
        kit.endpoint(f"https://erp.example.com/{i}", ["purchase.created"]) for i in range(25)
    )
    kit.emit("purchase.created", {"purchaseId": "p1", "contactId": "c1"})
    kit.emit("purchase.created", {"purchaseId": "p2", "contactId": "c1"})
    written: list[int] = []
    for _ in range(20):
        before = kit.conn.scalar("SELECT COUNT(*) FROM webhook_deliveries")
        with kit.conn.transaction():
            handled = dispatch.dispatch_outbox(kit.conn, kit.now(), budget=10)
        after = kit.conn.scalar("SELECT COUNT(*) FROM webhook_deliveries")
        written.append(int(after) - int(before))
        if handled == 0:
            break
    assert written == [10, 10, 10, 10, 10, 0]
    assert max(written) <= 10
    rows = kit.conn.all("SELECT endpoint_id, outbox_id, id FROM webhook_deliveries")
    assert len(rows) == 50
    by_outbox: dict[int, list[str]] = {}
    for eid, oid, did in rows:
        by_outbox.setdefault(int(oid), []).append(eid)
        assert did == delivery_id(int(oid), eid)
    assert all(sorted(v) == ids for v in by_outbox.values())
    assert not dispatch.outbox_waiting(kit.conn)
    # Every endpoint is due, and per-contact order holds across the split.
    assert len(claims.due_endpoints(kit.conn, kit.now(), 100)) == 25
    # Each endpoint gets p1, then p2 (the same contact: outbox order), one at a time.
    first_outbox = min(by_outbox)
    for eid in ids:
        got = []
        for _ in range(2):
            claimed = claims.claim_next(kit.conn, eid, "t", kit.now(), 60_000_000)
            assert claimed is not None
            got.append(claimed.body)
            out = attempts.Outcome(kind="delivered", at=kit.now(), status_code=200)
            with kit.conn.transaction():
                assert attempts.record(kit.conn, claimed, out, kit.now()) == "delivered"
        assert [b"p1" in got[0], b"p2" in got[1]] == [True, True]
        assert claims.claim_next(kit.conn, eid, "t", kit.now(), 60_000_000) is None
    assert first_outbox in by_outbox
    assert claims.due_endpoints(kit.conn, kit.now(), 100) == []


def _backlog(conn: Conn, store_id: str, endpoint_ids: list[str], n: int, now: int) -> None:
    """`n` pending deliveries spread over the endpoints, written with bulk SQL."""
    rows = [
        (
            f"whd_backlog{i:08d}",
            endpoint_ids[i % len(endpoint_ids)],
            store_id,
            "purchase.created",
            b"{}",
            now,
            now,
            now,
            1_000_000 + i,
            now,
            f"c{i % 997}",
        )
        for i in range(n)
    ]
    with conn.transaction():
        conn.executemany(webhook_dispatch.INSERT, rows)
        conn.execute(
            "UPDATE webhook_endpoints SET next_due_at = ? WHERE store_id = ?", (now, store_id)
        )
    if conn.dialect == "postgres":
        conn.execute("ANALYZE webhook_deliveries")
        conn.execute("ANALYZE webhook_endpoints")


def _plan(conn: Conn, sql: str, params: tuple[object, ...]) -> str:
    prefix = "EXPLAIN " if conn.dialect == "postgres" else "EXPLAIN QUERY PLAN "
    return "\n".join(str(r[-1]) for r in conn.all(prefix + sql, params))


def test_claim_queries_use_indexes_whatever_the_backlog(kit: Kit, db: Database) -> None:
    busy = [kit.endpoint("http://127.0.0.1:9/busy", ["purchase.created"]) for _ in range(25)]
    _backlog(kit.conn, kit.store_id, busy, 20_000, kit.now())
    now = kit.now() + 1
    plans = [
        _plan(kit.conn, webhook_leases.DUE_ENDPOINTS_SQL, (now, now, 16)),
        _plan(kit.conn, webhook_claims.NEXT_DELIVERY_SQL, (busy[0], now, now)),
    ]
    for plan in plans:
        if kit.conn.dialect == "postgres":
            # (A table of a few dozen endpoints may be read whole: that does not grow with
            # the backlog; the deliveries table never is.)
            assert "Seq Scan on webhook_deliveries" not in plan, plan
        else:
            assert not re.search(r"\bSCAN (webhook_deliveries|d|e)\b", plan), plan
            assert not re.search(r"\bSCAN webhook_endpoints\b", plan), plan
    if kit.conn.dialect == "sqlite":
        assert "webhook_endpoints_due" in plans[0]
    assert "webhook_deliveries_next" in plans[1]
    # And the claim itself takes the due delivery of the endpoint asked for.
    claimed = claims.claim_next(kit.conn, busy[0], "t", now, 60_000_000)
    assert claimed is not None and claimed.endpoint_id == busy[0]


def test_a_backlog_in_one_store_does_not_change_another_stores_ingest(
    db: Database, store: StoreInfo, receivers: list[Receiver]
) -> None:
    quiet = make_store(db, "Quiet store")
    rec = receiver(receivers)
    server = live_server(db)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            body = example("seed-purchase.json")
            r = api.post(
                "/api/webhooks",
                json={"url": rec.url, "topics": ["purchase.created"]},
                headers=quiet.auth,
            )
            assert r.status_code == 201
            rec.secret = r.json()["secret"]
            # The busy store: the most endpoints it may have, all failing (a closed port),
            # and a backlog of pending deliveries.
            busy = []
            for i in range(WebhookSettings().max_endpoints_per_store):
                r = api.post(
                    "/api/webhooks",
                    json={"url": f"http://127.0.0.1:9/dead/{i}", "topics": ["purchase.created"]},
                    headers=store.auth,
                )
                assert r.status_code == 201
                busy.append(r.json()["id"])
            conn = db.connect()
            try:
                _backlog(conn, store.id, busy, 20_000, to_micros(SystemClock().now()))
            finally:
                conn.close()
            busy_answer = api.post(
                ingest_path(store.id), content=body, headers={"Content-Type": "text/plain"}
            )
            assert busy_answer.status_code == 200
            started = time.monotonic()
            answer = api.post(
                ingest_path(quiet.id), content=body, headers={"Content-Type": "text/plain"}
            )
            took = time.monotonic() - started
            assert answer.status_code == 200
            assert answer.json()["results"][0]["status"] == "accepted"
            assert took < 2.0, took
            (got,) = rec.wait_for(1, timeout=15)
            assert got.valid and got.json["storeId"] == quiet.id
            assert got.json["data"]["purchaseId"] == "purchase-e3418b5a-8709-4593-a7c8-d8a7f12df737"
    finally:
        server.stop()
