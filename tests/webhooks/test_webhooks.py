"""Webhook delivery against real local receivers, on SQLite and PostgreSQL: the body and its
signature, fan-out, the retry schedule, Retry-After, permanent failures, dead letters and
replay, a crash between sending and recording, per-endpoint isolation, per-contact order,
several workers, and the private-address guard."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import msgspec
import pytest

from shopevents.clock import FixedClock, to_micros
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.storage.database import Database
from shopevents.webhooks import attempts, backoff, claims, delivery_log, dispatch, sender
from shopevents.webhooks.signing import verify
from shopevents.webhooks.worker import deliver_due, lease_micros
from tests.conftest import StoreInfo, make_store
from tests.webhooks_receiver import Kit, Receiver


def hook_settings(**kw: object) -> Settings:
    base = {"allow_private_addresses": True, "timeout_seconds": 2.0, "concurrency": 8}
    base.update(kw)
    return Settings(
        worker=WorkerSettings(enabled=False),
        webhooks=WebhookSettings(**base),  # type: ignore[arg-type]
    )


@pytest.fixture
def kit(db: Database, store: StoreInfo, clock: FixedClock) -> Iterator[Kit]:
    k = Kit(db, store.id, clock, hook_settings())
    yield k
    k.close()


def micros(seconds: float) -> int:
    return int(seconds * 1_000_000)


def test_delivery_body_headers_and_signature(kit: Kit) -> None:
    rec = kit.receiver()
    eid = kit.endpoint(rec, ["purchase.created"])
    data = {"purchaseId": "ORDER-1", "contactId": "c1", "totalPrice": 51.88, "currency": "EUR"}
    kit.emit("purchase.created", data)

    assert kit.run() == 2  # one outbox row dispatched, one attempt made
    (got,) = rec.wait_for(1)
    assert got.valid
    body = got.json
    assert list(body) == ["id", "topic", "occurredAt", "storeId", "data"]
    assert body["topic"] == "purchase.created"
    assert body["storeId"] == kit.store_id
    assert body["occurredAt"] == "2026-01-01T00:00:00.000Z"
    assert body["data"] == data
    assert got.headers["idempotency-key"] == body["id"]
    assert got.headers["content-type"] == "application/json"
    assert got.headers["shopevents-topic"] == "purchase.created"
    assert got.headers["shopevents-attempt"] == "1"
    sig = got.headers["shopevents-signature"]
    t = int(kit.clock.now().timestamp())
    assert sig.startswith(f"t={t},v1=")
    secret = kit.conn.scalar("SELECT secret FROM webhook_endpoints WHERE id = ?", (eid,))
    assert verify(secret, sig, got.body, now=t)
    assert not verify(secret, sig, got.body + b" ", now=t)
    assert not verify(secret, sig, got.body, now=t + 301)  # older than five minutes
    assert not verify("whsec_other", sig, got.body, now=t)

    (d,) = kit.deliveries()
    assert d["id"] == body["id"] and d["status"] == "delivered" and d["attempts"] == 1
    log = kit.delivery(d["id"])["attemptLog"]
    assert [(a["statusCode"], a["outcome"], a["response"]) for a in log] == [
        (200, "delivered", '{"ok":true}')
    ]
    assert log[0]["latencyMs"] is not None
    assert kit.run() == 0  # nothing left


def test_fan_out_by_topic_store_and_enabled(kit: Kit, db: Database) -> None:
    purchases, carts, both, paused = (kit.receiver() for _ in range(4))
    kit.endpoint(purchases, ["purchase.created"])
    kit.endpoint(carts, ["cart.abandoned", "cart.recovered"])
    kit.endpoint(both, ["purchase.created", "cart.abandoned"])
    paused_id = kit.endpoint(paused, ["purchase.created"])
    from shopevents.webhooks import endpoints

    with kit.conn.transaction():
        assert endpoints.set_enabled(kit.conn, paused_id, False, kit.now())
    other = make_store(db, "Other store")
    elsewhere = kit.receiver()
    kit.endpoint(elsewhere, ["purchase.created"], store_id=other.id)

    kit.emit("purchase.created", {"purchaseId": "A"})
    kit.emit("cart.abandoned", {"cartId": "K"})
    kit.emit("contact.created", {"contactId": "x"})
    kit.run()
    assert [r.json["topic"] for r in purchases.received] == ["purchase.created"]
    assert [r.json["topic"] for r in carts.received] == ["cart.abandoned"]
    assert sorted(r.json["topic"] for r in both.received) == ["cart.abandoned", "purchase.created"]
    assert paused.received == [] and elsewhere.received == []
    ids = [r.id for rec in (purchases, carts, both) for r in rec.received]
    assert len(set(ids)) == 4  # one delivery id per (event, endpoint)
    assert kit.conn.scalar("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0
    # fanning out again changes nothing
    with kit.conn.transaction():
        assert dispatch.dispatch_outbox(kit.conn, kit.now()) == 0
    assert len(kit.deliveries()) == 4


def test_transient_failures_retry_on_the_schedule_with_the_same_id(kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 3
    kit.endpoint(rec, ["cart.abandoned"])
    kit.emit("cart.abandoned", {"cartId": "K1", "contactId": "c1"})

    kit.run()
    for attempt, wait in enumerate(backoff.SCHEDULE[:3], start=1):
        (d,) = kit.deliveries()
        assert d["status"] == "pending" and d["attempts"] == attempt
        due = kit.conn.scalar("SELECT next_attempt_at FROM webhook_deliveries")
        delay = (due - kit.now()) / 1e6
        assert wait * 0.8 <= delay <= wait * 1.2, (attempt, delay)
        kit.clock.advance(delay - 0.5)
        kit.run()
        assert len(rec.received) == attempt  # not yet
        kit.clock.advance(1)
        kit.run()
    (d,) = kit.deliveries()
    assert d["status"] == "delivered" and d["attempts"] == 4
    assert len(rec.received) == 4
    assert len({r.id for r in rec.received}) == 1
    assert {r.headers["idempotency-key"] for r in rec.received} == {d["id"]}
    assert [r.headers["shopevents-attempt"] for r in rec.received] == ["1", "2", "3", "4"]
    assert all(r.valid for r in rec.received)
    log = kit.delivery(d["id"])["attemptLog"]
    assert [(a["attempt"], a["statusCode"], a["outcome"]) for a in log] == [
        (1, 500, "pending"),
        (2, 500, "pending"),
        (3, 500, "pending"),
        (4, 200, "delivered"),
    ]
    assert log[0]["error"] == "HTTP 500" and "try later" in log[0]["response"]


def test_jitter_stays_within_twenty_percent() -> None:
    rng = random.Random(7)
    for n, base in enumerate(backoff.SCHEDULE, start=1):
        values = [backoff.retry_delay(n, rng) for _ in range(200)]
        assert all(v is not None and base * 0.8 <= v <= base * 1.2 for v in values)
        assert max(values) - min(values) > base * 0.2  # really jittered
    assert backoff.retry_delay(backoff.MAX_ATTEMPTS) is None
    assert backoff.MAX_ATTEMPTS == 10
    assert backoff.SCHEDULE == (5, 30, 120, 600, 3600, 10800, 21600, 43200, 86400)


def test_429_retry_after_is_honoured(kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 1
    rec.fail_status = 429
    rec.fail_headers = {"Retry-After": "120"}
    kit.endpoint(rec, ["contact.created"])
    kit.emit("contact.created", {"contactId": "c1"})
    kit.run()
    due = kit.conn.scalar("SELECT next_attempt_at FROM webhook_deliveries")
    assert due == kit.now() + micros(120)
    kit.clock.advance(119)
    kit.run()
    assert len(rec.received) == 1
    kit.clock.advance(1)
    kit.run()
    assert len(rec.received) == 2
    assert kit.deliveries()[0]["status"] == "delivered"


def test_503_retry_after_as_http_date(kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 1
    rec.fail_status = 503
    when = kit.clock.now() + timedelta(seconds=600)
    rec.fail_headers = {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    kit.endpoint(rec, ["contact.created"])
    kit.emit("contact.created", {"contactId": "c1"})
    kit.run()
    due = kit.conn.scalar("SELECT next_attempt_at FROM webhook_deliveries")
    assert due == kit.now() + micros(600)


@pytest.mark.parametrize("status", [410, 400, 401, 404, 422])
def test_other_4xx_is_permanent(kit: Kit, status: int) -> None:
    rec = kit.receiver()
    rec.status = status
    kit.endpoint(rec, ["purchase.created"])
    kit.emit("purchase.created", {"purchaseId": "A"})
    kit.run()
    (d,) = kit.deliveries()
    assert d["status"] == "failed" and d["attempts"] == 1
    assert d["lastStatusCode"] == status and d["lastError"] == f"HTTP {status}"
    assert d["finishedAt"] is not None and d["nextAttemptAt"] is None
    kit.clock.advance(timedelta(days=3))
    kit.run()
    assert len(rec.received) == 1


def test_redirects_are_not_followed(kit: Kit) -> None:
    target = kit.receiver()
    rec = kit.receiver()
    rec.status = 307
    rec.headers = {"Location": target.url}
    kit.endpoint(rec, ["purchase.created"])
    kit.emit("purchase.created", {"purchaseId": "A"})
    kit.run()
    (d,) = kit.deliveries()
    assert d["status"] == "failed" and d["lastStatusCode"] == 307
    assert "redirects are not followed" in d["lastError"] and target.url in d["lastError"]
    assert target.received == []


def test_connection_errors_and_timeouts_are_retried(kit: Kit) -> None:
    closed = Receiver()
    closed_url = closed.url
    closed.server.server_close()  # nothing listens there any more
    slow = kit.receiver()
    slow.hang = True
    kit.settings = hook_settings(timeout_seconds=0.5)
    kit.endpoint(closed_url, ["ping"])
    kit.endpoint(slow, ["ping"])
    kit.emit("ping", {})
    started = time.monotonic()
    kit.run()
    assert time.monotonic() - started < 5
    by_status = {d["endpointId"]: d for d in kit.deliveries()}
    assert all(d["status"] == "pending" and d["attempts"] == 1 for d in by_status.values())
    errors = sorted(d["lastError"] for d in by_status.values())
    assert any("ConnectError" in e for e in errors), errors
    assert any("timed out" in e for e in errors), errors


def test_invalid_url_is_permanent(kit: Kit) -> None:
    eid = kit.endpoint("https://example.com/hook", ["ping"])
    kit.conn.execute(
        "UPDATE webhook_endpoints SET url = 'ftp://example.com/x' WHERE id = ?", (eid,)
    )
    kit.emit("ping", {})
    kit.run()
    (d,) = kit.deliveries()
    assert d["status"] == "failed" and d["lastError"].startswith("invalid URL")


def test_dead_letter_after_the_last_attempt_then_replay(kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 10_000
    rec.fail_status = 502
    kit.endpoint(rec, ["cart.recovered"])
    kit.emit("cart.recovered", {"cartId": "K", "contactId": "c9"})
    kit.run()
    for _ in range(backoff.MAX_ATTEMPTS - 1):
        kit.clock.advance(backoff.SCHEDULE[-1] * 1.21)
        kit.run()
    (d,) = kit.deliveries()
    assert d["status"] == "dead" and d["attempts"] == backoff.MAX_ATTEMPTS
    assert len(rec.received) == backoff.MAX_ATTEMPTS
    assert kit.deliveries(status="dead") == [d]
    kit.clock.advance(timedelta(days=5))
    kit.run()
    assert len(rec.received) == backoff.MAX_ATTEMPTS  # dead stays dead

    rec.fail_times = 0
    with kit.conn.transaction():
        assert delivery_log.replay(kit.conn, d["id"], kit.now(), kit.store_id) == "dead"
    again = kit.delivery(d["id"])
    assert again["status"] == "pending" and again["attempts"] == 0 and again["replays"] == 1
    kit.run()
    done = kit.delivery(d["id"])
    assert done["status"] == "delivered" and done["attempts"] == 1
    assert {r.id for r in rec.received} == {d["id"]}
    assert len(done["attemptLog"]) == backoff.MAX_ATTEMPTS + 1  # the history is kept
    with kit.conn.transaction():  # a delivered one is not replayed
        assert delivery_log.replay(kit.conn, d["id"], kit.now()) == "delivered"
    assert kit.delivery(d["id"])["status"] == "delivered"


def test_replay_all_dead_of_a_store(kit: Kit) -> None:
    rec = kit.receiver()
    rec.status = 410
    kit.endpoint(rec, ["contact.created"])
    for i in range(3):
        kit.emit("contact.created", {"contactId": f"c{i}"})
    kit.run()
    assert {d["status"] for d in kit.deliveries()} == {"failed"}
    kit.conn.execute(
        "UPDATE webhook_deliveries SET status = 'dead' WHERE topic = 'contact.created'"
    )
    rec.status = 200
    with kit.conn.transaction():
        assert delivery_log.replay_all(kit.conn, kit.store_id, kit.now()) == 3
    kit.run()
    assert {d["status"] for d in kit.deliveries()} == {"delivered"}


def test_crash_between_send_and_record_resends_the_same_delivery(kit: Kit) -> None:
    """Claim (commit), send, and die before recording: after the lease the delivery goes
    out again with the same id; nothing is lost."""
    rec = kit.receiver()
    eid = kit.endpoint(rec, ["purchase.created"])
    kit.emit("purchase.created", {"purchaseId": "P-crash"})
    with kit.conn.transaction():
        dispatch.dispatch_outbox(kit.conn, kit.now())
    lease = lease_micros(kit.settings)
    claimed = claims.claim_next(kit.conn, eid, "worker-a", kit.now(), lease)
    assert claimed is not None

    async def send_only() -> attempts.Outcome:
        async with sender.make_client(2.0, 1) as client:
            return await sender.send(
                client, claimed, kit.clock.now, timeout=2.0, allow_private=True
            )

    outcome = asyncio.run(send_only())
    assert outcome.kind == "delivered" and len(rec.received) == 1
    # ... the worker dies here: the result is never recorded.

    kit.run()  # another worker, within the lease: the claim holds
    assert len(rec.received) == 1
    (d,) = kit.deliveries()
    assert d["status"] == "pending" and d["inFlight"]

    kit.clock.advance(lease / 1e6 + 1)
    kit.run()
    assert len(rec.received) == 2
    assert rec.received[0].id == rec.received[1].id == claimed.id
    assert kit.delivery(claimed.id)["status"] == "delivered"

    # the dead worker's late result is fenced off by its claim token: only logged
    with kit.conn.transaction():
        assert attempts.record(kit.conn, claimed, outcome, kit.now()) is None
    done = kit.delivery(claimed.id)
    assert done["status"] == "delivered" and done["attempts"] == 1
    assert [a["outcome"] for a in done["attemptLog"]] == ["superseded", "delivered"]


@pytest.mark.slow
def test_a_hanging_endpoint_does_not_delay_the_others(kit: Kit) -> None:
    kit.settings = hook_settings(timeout_seconds=3.0)
    hung = kit.receiver()
    hung.hang = True
    fast = kit.receiver()
    kit.endpoint(hung, ["contact.created"])
    kit.endpoint(fast, ["contact.created"])
    for i in range(6):
        kit.emit("contact.created", {"contactId": f"c{i}"})

    started = time.monotonic()
    kit.run()
    took = time.monotonic() - started
    assert took >= 3.0  # the hung endpoint held its own lane until its timeout
    assert len(fast.received) == 6
    assert all(r.valid for r in fast.received)
    assert max(r.arrived for r in fast.received) - started < 2.5  # before the hung one's timeout
    assert len(hung.received) == 1  # one in flight per endpoint, never more
    statuses = {d["endpointId"]: d["status"] for d in kit.deliveries()}
    assert sorted(statuses.values()) == ["delivered", "pending"]
    pending = kit.deliveries(status="pending")
    assert len(pending) == 6 and {d["attempts"] for d in pending} == {0, 1}
    assert [d["lastError"] for d in pending if d["attempts"] == 1] == ["timed out after 3 s"]


def test_order_is_kept_per_contact(kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 1
    kit.endpoint(rec, ["contact.created", "contact.identified", "purchase.created"])
    kit.emit("contact.created", {"contactId": "alice"})
    kit.emit("contact.identified", {"contactId": "alice", "email": "a@example.com"})
    kit.emit("purchase.created", {"purchaseId": "B1", "contactId": "bob"})
    kit.run()
    # alice's first failed: the endpoint pauses (it is probed, not flooded)
    assert [r.json["topic"] for r in rec.received] == ["contact.created"]
    due = kit.conn.scalar("SELECT next_attempt_at FROM webhook_deliveries WHERE attempts = 1")
    paused = kit.conn.scalar("SELECT claimed_until FROM webhook_endpoints")
    assert paused == due  # the pause is the failed delivery's wait (under a minute)
    kit.clock.advance(10)
    kit.run()
    got = [(r.json["topic"], r.json["data"].get("contactId")) for r in rec.received]
    # bob's was not held behind alice's; alice's second waited for her first
    assert got == [
        ("contact.created", "alice"),
        ("purchase.created", "bob"),
        ("contact.created", "alice"),
        ("contact.identified", "alice"),
    ]
    assert rec.received[0].id == rec.received[2].id


def test_a_failing_endpoint_is_paused_not_flooded(kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 1000
    rec.fail_status = 503
    kit.endpoint(rec, ["contact.created"])
    for i in range(20):
        kit.emit("contact.created", {"contactId": f"c{i}"})
    kit.run()
    assert len(rec.received) == 1
    kit.clock.advance(61)
    kit.run()
    assert len(rec.received) == 2  # one probe per pause
    rec.fail_times = 0
    kit.clock.advance(61)
    kit.run()
    assert len(rec.received) == 22  # it answers again: the backlog drains
    assert {d["status"] for d in kit.deliveries(limit=100)} == {"delivered"}


def test_several_workers_deliver_each_once_and_one_at_a_time_per_endpoint(
    kit: Kit, db: Database
) -> None:
    recs = [kit.receiver() for _ in range(3)]
    for rec in recs:
        rec.delay = 0.03
        kit.endpoint(rec, ["purchase.created"])
    for i in range(8):
        kit.emit("purchase.created", {"purchaseId": f"P{i}"})
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        conn = db.connect()
        try:
            results.append(deliver_due(conn, kit.clock, kit.settings))
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    for rec in recs:
        ids = rec.ids()
        assert len(ids) == 8 and len(set(ids)) == 8
        assert rec.max_active == 1
    assert {d["status"] for d in kit.deliveries(limit=100)} == {"delivered"}


def test_private_addresses_are_refused_unless_allowed(kit: Kit) -> None:
    recs = [kit.receiver() for _ in range(3)]
    kit.endpoint(recs[0], ["ping"])
    kit.endpoint(recs[1].url.replace("127.0.0.1", "localhost"), ["ping"])
    kit.endpoint(f"http://[::ffff:127.0.0.1]:{recs[2].port}/hooks", ["ping"])
    secrets = dict(
        kit.conn.all("SELECT url, secret FROM webhook_endpoints ORDER BY created_at, id")
    )
    recs[1].secret = secrets[recs[1].url.replace("127.0.0.1", "localhost")]
    recs[2].secret = secrets[f"http://[::ffff:127.0.0.1]:{recs[2].port}/hooks"]
    kit.emit("ping", {})
    kit.settings = hook_settings(allow_private_addresses=False)
    kit.run()
    assert all(rec.received == [] for rec in recs)
    found = kit.deliveries()
    assert len(found) == 3
    for d in found:
        assert d["status"] == "failed" and d["attempts"] == 1
        assert d["lastError"].startswith("blocked address"), d["lastError"]
        assert "allow_private_addresses" in d["lastError"]
    errors = " ".join(d["lastError"] for d in found)
    assert "localhost resolves to" in errors

    kit.settings = hook_settings(allow_private_addresses=True)
    with kit.conn.transaction():
        assert delivery_log.replay_all(kit.conn, kit.store_id, kit.now(), statuses=("failed",)) == 3
    kit.run()
    assert [len(rec.received) for rec in recs] == [1, 1, 1]
    assert all(rec.received[0].valid for rec in recs)
    assert {d["status"] for d in kit.deliveries()} == {"delivered"}


def test_ping_goes_to_one_endpoint_whatever_its_topics(kit: Kit) -> None:
    rec = kit.receiver()
    other = kit.receiver()
    eid = kit.endpoint(rec, ["purchase.created"])
    kit.endpoint(other, ["ping"])
    with kit.conn.transaction():
        did = dispatch.enqueue_ping(kit.conn, eid, kit.store_id, kit.now())
    kit.run()
    (got,) = rec.received
    assert got.valid and got.id == did and got.json["topic"] == "ping"
    assert got.json["data"]["endpointId"] == eid
    assert other.received == []


def test_success_rate_and_stats(kit: Kit) -> None:
    from shopevents.webhooks import endpoints

    rec = kit.receiver()
    eid = kit.endpoint(rec, ["contact.created"])
    for i in range(4):
        kit.emit("contact.created", {"contactId": f"c{i}"})
    rec.fail_times = 1
    rec.fail_status = 404  # the first one fails for good
    kit.run()
    (ep,) = endpoints.list_endpoints(kit.conn, kit.store_id, kit.now())
    s = ep["stats"]
    assert ep["id"] == eid and "secret" not in ep
    assert (s["delivered"], s["failed"], s["pending"], s["dead"]) == (3, 1, 0, 0)
    assert s["successRate"] == 0.75
    assert s["attempts24h"] == 4 and s["failedAttempts24h"] == 1
    assert s["meanLatencyMs24h"] is not None and s["lastStatusCode"] == 200
    assert msgspec.json.encode(ep)  # plain JSON for the dashboard


def test_settings_env_switch() -> None:
    from shopevents.config import load_settings

    assert load_settings(env={}).webhooks.allow_private_addresses is False
    on = load_settings(env={"SHOPEVENTS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true"})
    assert on.webhooks.allow_private_addresses is True


def test_claims_are_compare_and_set(kit: Kit) -> None:
    rec = kit.receiver()
    eid = kit.endpoint(rec, ["ping"])
    kit.emit("ping", {})
    with kit.conn.transaction():
        dispatch.dispatch_outbox(kit.conn, kit.now())
    lease = micros(30)
    first = claims.claim_next(kit.conn, eid, "a", kit.now(), lease)
    assert first is not None
    assert claims.claim_next(kit.conn, eid, "b", kit.now(), lease) is None  # endpoint busy
    assert claims.due_endpoints(kit.conn, kit.now(), 10) == []
    kit.clock.advance(31)
    second = claims.claim_next(kit.conn, eid, "b", kit.now(), lease)
    assert second is not None and second.id == first.id and second.token == "b"
    out = attempts.Outcome(kind="delivered", at=kit.now(), status_code=200)
    with kit.conn.transaction():
        assert attempts.record(kit.conn, first, out, kit.now()) is None
        assert attempts.record(kit.conn, second, out, kit.now()) == "delivered"
    assert claims.claim_next(kit.conn, eid, "b", kit.now(), lease) is None
    assert kit.conn.scalar("SELECT claim_token FROM webhook_endpoints WHERE id = ?", (eid,)) is None


def test_postgres_and_sqlite_store_the_body_bytes_exactly(kit: Kit) -> None:
    rec = kit.receiver()
    kit.endpoint(rec, ["purchase.created"])
    kit.emit("purchase.created", {"purchaseId": "Ü-1", "totalPrice": 0.1, "note": "a\u2028b"})
    kit.run()
    (got,) = rec.received
    stored = kit.conn.scalar("SELECT body FROM webhook_deliveries")
    assert bytes(stored) == got.body
    assert got.json["data"]["purchaseId"] == "Ü-1"


def test_the_clock_drives_everything(db: Database, store: StoreInfo) -> None:
    clock = FixedClock()
    k = Kit(db, store.id, clock, hook_settings())
    try:
        rec = k.receiver()
        rec.fail_times = 1
        k.endpoint(rec, ["ping"])
        k.emit("ping", {})
        k.run()
        due = k.conn.scalar("SELECT next_attempt_at FROM webhook_deliveries")
        assert due > to_micros(clock.now())
        k.run()
        assert len(rec.received) == 1  # no real time passes for the fixed clock
        clock.advance(7)
        k.run()
        assert len(rec.received) == 2
    finally:
        k.close()


def test_the_worker_process_steps_deliver(kit: Kit) -> None:
    from shopevents.worker.steps import run_once

    rec = kit.receiver()
    kit.endpoint(rec, ["contact.merged"])
    kit.emit("contact.merged", {"contactId": "a", "mergedContactId": "b", "mergeId": 1})
    assert run_once(kit.conn, kit.clock, kit.settings) is True
    assert len(rec.received) == 1 and rec.received[0].valid
    assert run_once(kit.conn, kit.clock, kit.settings) is False


def test_deliver_one_sends_a_single_delivery(kit: Kit) -> None:
    from shopevents.webhooks.worker import deliver_one

    rec = kit.receiver()
    kit.endpoint(rec, ["ping"])
    kit.emit("ping", {})
    kit.emit("ping", {})
    with kit.conn.transaction():
        dispatch.dispatch_outbox(kit.conn, kit.now())
    assert deliver_one(kit.conn, kit.clock, kit.settings) == "delivered"
    assert len(rec.received) == 1
    assert deliver_one(kit.conn, kit.clock, kit.settings) == "delivered"
    assert deliver_one(kit.conn, kit.clock, kit.settings) is None
    assert len(rec.received) == 2


def test_prune_finished_deliveries(kit: Kit) -> None:
    rec = kit.receiver()
    kit.endpoint(rec, ["ping"])
    kit.emit("ping", {})
    kit.run()
    rec.status = 410
    kit.emit("ping", {})
    kit.run()
    assert sorted(d["status"] for d in kit.deliveries()) == ["delivered", "failed"]
    with kit.conn.transaction():
        assert delivery_log.prune(kit.conn, kit.now()) == 0  # not older than now
        assert delivery_log.prune(kit.conn, kit.now() + 1, statuses=("delivered",)) == 1
    assert [d["status"] for d in kit.deliveries()] == ["failed"]
    assert kit.conn.scalar("SELECT COUNT(*) FROM webhook_attempts") == 1
