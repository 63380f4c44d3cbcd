"""The dashboard's Webhooks pages over real HTTP, on both backends: endpoints with their
counts and success rate, the delivery log per endpoint, a delivery's attempts and body,
receiver responses shown as text, replay of one delivery and of every dead one, login."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import msgspec
import pytest

from shopevents.clock import FixedClock, to_micros
from shopevents.config import Settings
from shopevents.storage.database import Conn, Database
from shopevents.webhooks import attempts, claims, delivery_log, dispatch, endpoints
from tests.conftest import LiveServer, StoreInfo, make_store
from tests.dashboard.support import (
    XSS,
    add_user,
    csrf_of,
    login,
    owner_hooks,
    start_server,
)

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


class Hooks(msgspec.Struct):
    endpoint: str
    dead: str
    dead2: str
    failed: str
    delivered: str


def _attempt(conn: Conn, did: str, outcome: attempts.Outcome, now: int) -> str | None:
    claimed = claims.claim_delivery(conn, did, "t-" + did, now, 60_000_000)
    assert claimed is not None
    status = attempts.record(conn, claimed, outcome, now)
    claims.release_endpoint(conn, claimed.endpoint_id, claimed.token)
    return status


def seed(db: Database, store_id: str) -> Hooks:
    """An endpoint with two dead deliveries, a failed one and a delivered one."""
    now = to_micros(NOW)
    conn = db.connect()
    try:
        with conn.transaction():
            ep, _ = endpoints.create_endpoint(
                conn,
                store_id,
                "https://hooks.example.com/in",
                ["cart.abandoned", "purchase.created"],
                now,
                description=XSS,
                allow_private=False,
            )
            ids = [dispatch.enqueue_ping(conn, ep.id, store_id, now - 4 + i) for i in range(4)]
        dead, dead2, failed, delivered = ids
        for did in (dead, dead2, failed):
            with conn.transaction():
                got = _attempt(
                    conn,
                    did,
                    attempts.Outcome(
                        kind="failed",
                        at=now,
                        status_code=410,
                        latency_ms=87,
                        error="HTTP 410 from the receiver",
                        response=SCRIPT,
                    ),
                    now,
                )
                assert got == "failed"
        with conn.transaction():
            ok = attempts.Outcome(
                kind="delivered", at=now, status_code=200, latency_ms=12, response="ok"
            )
            assert _attempt(conn, delivered, ok, now) == "delivered"
            # After the last attempt of the schedule a delivery is dead-lettered.
            conn.execute(
                "UPDATE webhook_deliveries SET status = 'dead' WHERE id IN (?, ?)", (dead, dead2)
            )
    finally:
        conn.close()
    return Hooks(ep.id, dead, dead2, failed, delivered)


def status_of(db: Database, did: str) -> tuple[str, int, int]:
    conn = db.connect()
    try:
        found = delivery_log.get_delivery(conn, did)
    finally:
        conn.close()
    assert found is not None and found["id"] == did
    return found["status"], found["attempts"], found["replays"]


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, FixedClock(NOW))
    yield srv
    srv.stop()


@pytest.fixture
def web(live: LiveServer, db: Database) -> Iterator[httpx.Client]:
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30, event_hooks=owner_hooks(db)) as client:
        yield client


def get(client: httpx.Client, path: str, status: int = 200) -> str:
    r = client.get(path)
    assert r.status_code == status, f"{path}: {r.status_code} {r.text[:500]}"
    if status == 200:
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert SCRIPT not in r.text and XSS not in r.text, f"{path} shows untrusted text as HTML"
    return r.text


def test_endpoints_deliveries_attempts_and_replay(
    web: httpx.Client, db: Database, store: StoreInfo
) -> None:
    hooks = seed(db, store.id)
    csrf = login(web)
    base = f"/stores/{store.id}"
    ep_path = f"{base}/webhooks/{hooks.endpoint}"

    overview = get(web, base + "/")
    assert f'href="{base}/webhooks"' in overview and ">Webhooks</a>" in overview

    listing = get(web, base + "/webhooks")
    assert "https://hooks.example.com/in" in listing and XSS_ESCAPED in listing
    assert "cart.abandoned, purchase.created" in listing and "on</span>" in listing
    assert f'href="{ep_path}"' in listing
    assert f'href="{ep_path}?status=dead">2<' in listing
    assert f'href="{ep_path}?status=failed">1<' in listing
    assert f'href="{ep_path}?status=delivered">1<' in listing
    assert "25.0%" in listing  # 1 delivered of 4 finished

    log = get(web, ep_path)
    for did in (hooks.dead, hooks.dead2, hooks.failed, hooks.delivered):
        assert did in log
    # Newest first.
    assert log.index(hooks.delivered) < log.index(hooks.failed) < log.index(hooks.dead)
    assert "HTTP 410 from the receiver" in log and "410" in log
    assert log.count('/replay"') == 3  # failed and dead ones only
    assert "Replay all dead (2)" in log

    dead_only = get(web, ep_path + "?status=dead")
    assert hooks.dead in dead_only and hooks.dead2 in dead_only
    assert hooks.failed not in dead_only and hooks.delivered not in dead_only
    assert "No pending deliveries" in get(web, ep_path + "?status=pending")

    detail = get(web, f"{ep_path}/deliveries/{hooks.dead}")
    assert SCRIPT_ESCAPED in detail  # the receiver's response, as text
    assert "87 ms" in detail and "HTTP 410 from the receiver" in detail
    assert "ping from shopevents" in detail and hooks.endpoint in detail  # the body sent
    assert 'class="badge dead"' in detail

    # Replay one dead delivery through its form: pending again, same id, fresh attempts.
    r = web.post(
        f"{ep_path}/deliveries/{hooks.dead}/replay",
        data={"csrf": csrf, "back": ep_path + "?status=dead"},
    )
    assert r.status_code == 303 and r.headers["location"] == ep_path + "?status=dead"
    after = get(web, r.headers["location"])
    assert f"Delivery {hooks.dead} (dead) is queued again" in after
    assert status_of(db, hooks.dead) == ("pending", 0, 1)
    assert hooks.dead in get(web, ep_path + "?status=pending")
    # The history is kept.
    assert SCRIPT_ESCAPED in get(web, f"{ep_path}/deliveries/{hooks.dead}")

    # A delivered one is not replayed; a foreign back address is not followed.
    r = web.post(
        f"{ep_path}/deliveries/{hooks.delivered}/replay",
        data={"csrf": csrf, "back": "https://evil.example/"},
    )
    assert r.headers["location"] == ep_path
    assert "only failed or dead ones are replayed" in get(web, ep_path)
    assert status_of(db, hooks.delivered)[0] == "delivered"

    # Without the CSRF token nothing happens.
    r = web.post(f"{ep_path}/replay-dead", data={})
    assert r.status_code == 403 and "csrf_failed" in r.text
    assert status_of(db, hooks.dead2)[0] == "dead"

    # Replay all dead of the endpoint: the failed one stays failed.
    r = web.post(f"{ep_path}/replay-dead", data={"csrf": csrf})
    assert r.status_code == 303
    assert "1 dead delivery is queued again" in get(web, r.headers["location"])
    assert status_of(db, hooks.dead2) == ("pending", 0, 1)
    assert status_of(db, hooks.failed)[0] == "failed"
    assert "No dead deliveries" in get(web, ep_path + "?status=dead")

    # A failed one is replayed too.
    web.post(f"{ep_path}/deliveries/{hooks.failed}/replay", data={"csrf": csrf})
    assert status_of(db, hooks.failed) == ("pending", 0, 1)


def test_other_stores_and_unknown_ids_are_not_found(
    web: httpx.Client, db: Database, store: StoreInfo
) -> None:
    hooks = seed(db, store.id)
    other = make_store(db, "Other store")
    other_hooks = seed(db, other.id)
    csrf = login(web)
    base = f"/stores/{store.id}"
    get(web, f"{base}/webhooks/whe_nope", 404)
    get(web, f"{base}/webhooks/{other_hooks.endpoint}", 404)
    get(web, f"{base}/webhooks/{hooks.endpoint}/deliveries/{other_hooks.dead}", 404)
    assert other_hooks.endpoint not in get(web, f"{base}/webhooks")
    # Another store's dead delivery cannot be replayed through this store's endpoint.
    r = web.post(
        f"{base}/webhooks/{hooks.endpoint}/deliveries/{other_hooks.dead}/replay",
        data={"csrf": csrf},
    )
    assert r.status_code == 303
    assert "No delivery" in get(web, r.headers["location"])
    assert status_of(db, other_hooks.dead)[0] == "dead"
    empty = get(web, f"/stores/{other.id}/webhooks")
    assert other_hooks.endpoint in empty and hooks.endpoint not in empty


def test_no_endpoints_yet(web: httpx.Client, store: StoreInfo) -> None:
    login(web)
    assert "No webhook endpoints" in get(web, f"/stores/{store.id}/webhooks")


def test_login_is_required(web: httpx.Client, db: Database, store: StoreInfo) -> None:
    hooks = seed(db, store.id)
    base = f"/stores/{store.id}"
    for path in (
        base + "/webhooks",
        f"{base}/webhooks/{hooks.endpoint}",
        f"{base}/webhooks/{hooks.endpoint}/deliveries/{hooks.dead}",
    ):
        r = web.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=" + quote(path, safe="")
    token = csrf_of(web.get("/login").text)
    for path in (
        f"{base}/webhooks/{hooks.endpoint}/deliveries/{hooks.dead}/replay",
        f"{base}/webhooks/{hooks.endpoint}/replay-dead",
    ):
        r = web.post(path, data={"csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/login"
    assert status_of(db, hooks.dead)[0] == "dead"
    assert status_of(db, hooks.dead2)[0] == "dead"
