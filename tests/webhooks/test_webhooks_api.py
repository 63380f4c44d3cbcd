"""The webhooks REST API and the delivery worker inside the real server (uvicorn, group
commit, worker loop), on SQLite and PostgreSQL, with real local receivers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopevents.clock import SystemClock
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.storage.database import Database
from shopevents.webhooks.worker import worker_steps
from tests.conftest import (
    Collectors,
    LiveServer,
    StoreInfo,
    example,
    ingest_path,
    make_store,
    start_rig,
)
from tests.webhooks_receiver import Receiver


def hook_settings(**hooks: object) -> Settings:
    options = {"allow_private_addresses": True, "timeout_seconds": 2.0}
    options.update(hooks)
    return Settings(
        worker=WorkerSettings(enabled=True, interval_seconds=0.05),
        webhooks=WebhookSettings(**options),  # type: ignore[arg-type]
    )


def live_server(db: Database, **hooks: object) -> LiveServer:
    server = LiveServer(hook_settings(**hooks), db, SystemClock())
    server.app.state.worker_steps = worker_steps(server.ctx)
    return server.start()


@pytest.fixture
def live(db: Database, mode: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The server (embedded), or two collectors and two processors running the worker loop
    (cluster mode)."""
    if mode != "cluster":
        server = live_server(db)
        yield server
        server.stop()
        return
    rig = start_rig(request, hook_settings(), db, worker=True)
    collectors = Collectors(rig, db, SystemClock()).start()
    yield collectors
    collectors.stop()
    rig.stop()


@pytest.fixture
def api(live: LiveServer | Collectors) -> Iterator[httpx.Client]:
    with live.client(timeout=30) as client:
        yield client


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


def register(api: httpx.Client, store: StoreInfo, rec: Receiver, topics: list[str]) -> str:
    r = api.post("/api/webhooks", json={"url": rec.url, "topics": topics}, headers=store.auth)
    assert r.status_code == 201, r.text
    rec.secret = r.json()["secret"]
    return str(r.json()["id"])


def wait_until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_register_list_get_delete(api: httpx.Client, store: StoreInfo, db: Database) -> None:
    r = api.post(
        "/api/webhooks",
        json={
            "url": "https://hooks.example.com/shop",
            "topics": ["purchase.created", "cart.abandoned", "purchase.created"],
            "description": "ERP",
        },
        headers=store.auth,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["id"].startswith("whe_") and made["secret"].startswith("whsec_")
    assert made["topics"] == ["purchase.created", "cart.abandoned"]
    assert made["url"] == "https://hooks.example.com/shop" and made["description"] == "ERP"
    assert r.headers["location"] == f"/api/webhooks/{made['id']}"

    listed = api.get("/api/webhooks", headers=store.auth).json()
    (item,) = listed["items"]
    assert item["id"] == made["id"] and "secret" not in item
    assert item["stats"]["successRate"] is None and item["stats"]["pending"] == 0
    assert "ping" in listed["topics"]
    one = api.get(f"/api/webhooks/{made['id']}", headers=store.auth).json()
    assert one["id"] == made["id"] and "secret" not in one and "stats" in one

    other = make_store(db, "Other")
    assert api.get("/api/webhooks", headers=other.auth).json()["items"] == []
    for method, path in [
        ("GET", f"/api/webhooks/{made['id']}"),
        ("DELETE", f"/api/webhooks/{made['id']}"),
        ("POST", f"/api/webhooks/{made['id']}/ping"),
        ("GET", f"/api/webhooks/{made['id']}/deliveries"),
    ]:
        got = api.request(method, path, headers=other.auth)
        assert got.status_code == 404 and got.json()["code"] == "not_found", (method, path)

    assert api.get("/api/webhooks").status_code == 401
    assert api.delete(f"/api/webhooks/{made['id']}", headers=store.auth).status_code == 204
    assert api.delete(f"/api/webhooks/{made['id']}", headers=store.auth).status_code == 404
    assert api.get("/api/webhooks", headers=store.auth).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"url": "ftp://example.com/x", "topics": ["ping"]}, ["/url"]),
        ({"url": "example.com/hook", "topics": ["ping"]}, ["/url"]),
        ({"url": "https://", "topics": ["ping"]}, ["/url"]),
        ({"topics": ["ping"]}, ["/url"]),
        ({"url": "https://example.com/x", "topics": []}, ["/topics"]),
        ({"url": "https://example.com/x"}, ["/topics"]),
        ({"url": "https://example.com/x", "topics": ["ping", "order.paid"]}, ["/topics/1"]),
        ({"url": "javascript:alert(1)", "topics": "ping"}, ["/url", "/topics"]),
        ({"url": "https://u:p@example.com/x", "topics": ["ping"]}, ["/url"]),
        ([1, 2], [""]),
    ],
)
def test_validation_errors_are_422(
    api: httpx.Client, store: StoreInfo, body: object, paths: list[str]
) -> None:
    r = api.post("/api/webhooks", json=body, headers=store.auth)
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["code"] == "validation_failed" and out["status"] == 422
    assert [e["path"] for e in out["validationErrors"]] == paths
    assert all(e["reason"] for e in out["validationErrors"])
    assert api.get("/api/webhooks", headers=store.auth).json()["items"] == []


def test_bad_json_and_bad_query(api: httpx.Client, store: StoreInfo) -> None:
    r = api.post("/api/webhooks", content=b"{nope", headers=store.auth)
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    made = api.post(
        "/api/webhooks",
        json={"url": "https://example.com/x", "topics": ["ping"]},
        headers=store.auth,
    ).json()
    bad = api.get(f"/api/webhooks/{made['id']}/deliveries?status=lost", headers=store.auth)
    assert bad.status_code == 422 and bad.json()["validationErrors"][0]["path"] == "/status"
    bad = api.get(f"/api/webhooks/{made['id']}/deliveries?limit=x", headers=store.auth)
    assert bad.status_code == 422


def test_private_urls_refused_at_registration_unless_allowed(
    db: Database, store: StoreInfo
) -> None:
    server = live_server(db, allow_private_addresses=False)
    try:
        with httpx.Client(base_url=server.url) as client:
            for url in (
                "http://127.0.0.1:9/x",
                "http://localhost/x",
                "http://10.1.2.3/x",
                "http://[::1]/x",
                "http://169.254.169.254/latest/meta-data",
            ):
                r = client.post(
                    "/api/webhooks", json={"url": url, "topics": ["ping"]}, headers=store.auth
                )
                assert r.status_code == 422, url
                assert "allow_private_addresses" in r.json()["validationErrors"][0]["reason"]
            ok = client.post(
                "/api/webhooks",
                json={"url": "https://hooks.example.com/x", "topics": ["ping"]},
                headers=store.auth,
            )
            assert ok.status_code == 201
    finally:
        server.stop()


@pytest.mark.cluster
def test_ingested_purchase_reaches_the_endpoint_signed(
    api: httpx.Client, store: StoreInfo, receivers: list[Receiver]
) -> None:
    rec = receiver(receivers)
    register(api, store, rec, ["purchase.created", "contact.created"])
    body = example("seed-purchase.json")
    r = api.post(ingest_path(store.id), content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted"

    got = rec.wait_for(2)
    assert all(g.valid for g in got)
    by_topic = {g.json["topic"]: g.json for g in got}
    assert set(by_topic) == {"purchase.created", "contact.created"}
    purchase = by_topic["purchase.created"]
    assert purchase["storeId"] == store.id
    assert purchase["data"]["purchaseId"] == "purchase-e3418b5a-8709-4593-a7c8-d8a7f12df737"
    assert purchase["data"]["totalPrice"] == 51.88
    assert purchase["data"]["email"] == "jane@example.com"
    assert by_topic["contact.created"]["data"]["email"] == "jane@example.com"

    again = api.post(ingest_path(store.id), content=body, headers={"Content-Type": "text/plain"})
    assert again.json()["results"][0]["status"] == "duplicate"
    time.sleep(0.5)
    assert len(rec.received) == 2  # a duplicate purchase fires nothing


@pytest.mark.cluster
def test_ping_log_and_replay_over_the_api(
    api: httpx.Client, store: StoreInfo, receivers: list[Receiver]
) -> None:
    rec = receiver(receivers)
    rec.status = 410
    eid = register(api, store, rec, ["purchase.created"])
    r = api.post(f"/api/webhooks/{eid}/ping", headers=store.auth)
    assert r.status_code == 202
    did = r.json()["deliveryId"]
    rec.wait_for(1)
    wait_until(
        lambda: (
            api.get(f"/api/webhooks/deliveries/{did}", headers=store.auth).json()["status"]
            == "failed"
        )
    )
    failed = api.get(f"/api/webhooks/{eid}/deliveries?status=failed", headers=store.auth).json()
    assert [d["id"] for d in failed["items"]] == [did]
    assert (
        api.get(f"/api/webhooks/{eid}/deliveries?status=delivered", headers=store.auth).json()[
            "items"
        ]
        == []
    )
    detail = api.get(f"/api/webhooks/deliveries/{did}", headers=store.auth).json()
    assert detail["body"]["topic"] == "ping" and detail["body"]["id"] == did
    (attempt,) = detail["attemptLog"]
    assert attempt["statusCode"] == 410 and attempt["outcome"] == "failed"
    assert attempt["latencyMs"] >= 0 and attempt["response"] == '{"ok":true}'
    stats = api.get(f"/api/webhooks/{eid}", headers=store.auth).json()["stats"]
    assert stats["failed"] == 1 and stats["successRate"] == 0.0

    rec.status = 200
    r = api.post(f"/api/webhooks/deliveries/{did}/replay", headers=store.auth)
    assert r.status_code == 202 and r.json()["status"] in ("pending", "delivered")
    rec.wait_for(2)
    wait_until(
        lambda: (
            api.get(f"/api/webhooks/deliveries/{did}", headers=store.auth).json()["status"]
            == "delivered"
        )
    )
    assert rec.received[0].id == rec.received[1].id == did
    assert rec.received[1].headers["idempotency-key"] == did
    again = api.post(f"/api/webhooks/deliveries/{did}/replay", headers=store.auth)
    assert again.status_code == 422 and "delivered" in again.json()["message"]
    missing = api.post("/api/webhooks/deliveries/whd_nope/replay", headers=store.auth)
    assert missing.status_code == 404
    stats = api.get(f"/api/webhooks/{eid}", headers=store.auth).json()["stats"]
    assert stats["delivered"] == 1 and stats["successRate"] == 1.0


def test_a_hanging_endpoint_does_not_delay_the_others_in_serve(
    db: Database, store: StoreInfo, receivers: list[Receiver]
) -> None:
    server = live_server(db, timeout_seconds=5.0)
    hung = receiver(receivers)
    hung.hang = True
    fast = receiver(receivers)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as api:
            register(api, store, hung, ["contact.created"])
            register(api, store, fast, ["contact.created"])
            started = time.monotonic()
            for i in range(5):
                envelope = {
                    "events": [{"type": "page-visit"}],
                    "entityInfo": {"primaryKey": f"v{i}@example.com"},
                }
                r = api.post(ingest_path(store.id), content=json.dumps(envelope))
                assert r.status_code == 200
            got = fast.wait_for(5, timeout=5)
            assert all(g.valid for g in got)
            # all of them well before the hung endpoint's 5 s timeout
            assert max(g.arrived for g in got) - started < 3.5
            assert len(hung.received) == 1  # still stuck on its first, alone in its lane
            emails = sorted(g.json["data"]["email"] for g in got)
            assert emails == [f"v{i}@example.com" for i in range(5)]
    finally:
        hung.release.set()
        server.stop()


def documented_examples() -> dict[str, dict[str, object]]:
    """The example body under each topic's heading in docs/webhooks.md."""
    import re

    from tests.webhooks_receiver import ROOT

    text = (ROOT / "docs" / "webhooks.md").read_text()
    out: dict[str, dict[str, object]] = {}
    for mt in re.finditer(r"^#### `([a-z.]+)`\n(.*?)```json\n(.*?)```", text, re.S | re.M):
        out[mt.group(1)] = json.loads(mt.group(3))
    return out


@pytest.mark.cluster
def test_every_topic_fires_as_documented(
    api: httpx.Client, store: StoreInfo, db: Database, receivers: list[Receiver]
) -> None:
    from shopevents.domain.outbox import TOPICS

    with db.reader() as c:
        c.execute("UPDATE stores SET abandon_after_seconds = 1 WHERE id = ?", (store.id,))
    rec = receiver(receivers)
    eid = register(api, store, rec, list(TOPICS))

    def send(envelope: dict[str, object]) -> str:
        r = api.post(ingest_path(store.id), content=json.dumps(envelope))
        assert r.status_code == 200, r.text
        return str(r.json()["trackerId"])

    line = {
        "productId": "SKU-1",
        "name": "Blue mug",
        "productDetailUrl": "https://shop.example/p/SKU-1",
        "unitPrice": 12.5,
        "quantity": 2,
        "price": 25,
    }
    send({"events": [{"type": "page-visit"}], "entityInfo": {"primaryKey": "bob@example.com"}})
    ann = send({"events": [{"type": "page-visit"}]})
    send({"events": [], "entityInfo": {"trackerId": ann, "primaryKey": "ann@example.com"}})
    other = send({"events": [{"type": "page-visit"}]})
    send({"events": [], "entityInfo": {"trackerId": other, "primaryKey": "ann@example.com"}})
    cart = {
        "cartId": "cart-77",
        "totalQuantity": 2,
        "totalPrice": 25,
        "products": [line],
        "cartRecoveryUrl": "https://shop.example/cart/recover/77",
    }
    send({"events": [], "entityInfo": {"trackerId": ann}, "cart": cart})
    wait_until(lambda: "cart.abandoned" in [r.json["topic"] for r in rec.received], 15)
    purchase = {
        "purchaseId": "order-1001",
        "cartId": "cart-77",
        "totalQuantity": 2,
        "totalPrice": 25,
        "products": [line],
        "paymentMethod": "card",
    }
    send({"events": [{"type": "purchase", "purchase": purchase}], "entityInfo": {"trackerId": ann}})
    changed = {**purchase, "totalPrice": 30, "products": [{**line, "price": 30, "unitPrice": 15}]}
    send({"events": [{"type": "purchase", "purchase": changed}], "entityInfo": {"trackerId": ann}})
    adjust = "/api/purchases/purchase-id/order-1001/"
    refund = {"refundId": "rf-1", "lines": [{"productId": "SKU-1", "quantity": 1}], "reason": "x"}
    assert api.post(adjust + "refunds", json=refund, headers=store.auth).status_code == 201
    assert api.post(adjust + "cancellation", json={}, headers=store.auth).status_code == 201
    api.post(f"/api/webhooks/{eid}/ping", headers=store.auth)

    wanted = set(TOPICS)
    wait_until(lambda: wanted <= {r.json["topic"] for r in rec.received}, 15)
    assert all(r.valid for r in rec.received)
    docs = documented_examples()
    assert set(docs) == wanted
    for topic in TOPICS:
        real = next(r.json for r in rec.received if r.json["topic"] == topic)
        doc = docs[topic]
        assert list(doc) == list(real) == ["id", "topic", "occurredAt", "storeId", "data"]
        assert doc["topic"] == topic
        assert set(doc["data"]) == set(real["data"]), topic  # type: ignore[arg-type]


@pytest.mark.parametrize("literal", ["1e9999999999999999999", "-0", "1" * 5000, "1e-400"])
@pytest.mark.parametrize("field", ["url", "description", "topics", "other"])
def test_numbers_anywhere_get_a_verdict_with_their_path(
    api: httpx.Client, store: StoreInfo, literal: str, field: str
) -> None:
    parts = {"url": '"https://example.com/x"', "topics": '["ping"]', "description": '""'}
    parts[field] = "[" + literal + "]" if field == "topics" else literal
    body = "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}"
    r = api.post("/api/webhooks", content=body.encode(), headers=store.auth)
    if field == "other":  # an unknown field is ignored, whatever it holds
        assert r.status_code == 201, r.text
        return
    assert r.status_code == 422, r.text
    paths = [e["path"] for e in r.json()["validationErrors"]]
    assert paths and all(p.startswith(f"/{field}") for p in paths), paths
