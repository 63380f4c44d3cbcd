"""The real Python SDKs (segment-analytics-python, rudder-sdk-python with gzip) against a
live server, on SQLite and PostgreSQL; plus the write-key surface and the answers to what
the SDKs do not send (bad keys, limits)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from typing import Any

import httpx
import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from shopevents.storage.database import Database
from tests.conftest import LiveServer
from tests.segment.conftest import SegmentStore, check_session, count_requests, session


def _errors() -> tuple[list[Any], Any]:
    seen: list[Any] = []
    return seen, lambda exc, batch: seen.append(exc)


def test_segment_python_sdk(server: LiveServer, db: Database, seg: SegmentStore) -> None:
    errors, on_error = _errors()
    client = SegmentClient(seg.write_key, host=server.url, on_error=on_error, max_retries=3)
    session(client, "user-1", "ana@example.com", "ORD-PY-1")
    client.flush()
    client.shutdown()
    assert errors == []
    out = check_session(db, seg.store.id, "ana@example.com", "ORD-PY-1")
    fields = json.loads(out["contact"][4])
    assert fields["_name"] == "Ana"
    assert fields["plan"] == "gold"
    assert count_requests(db, seg.store.id) == 8


def test_rudder_python_sdk_gzip(server: LiveServer, db: Database, seg: SegmentStore) -> None:
    errors, on_error = _errors()
    client = RudderClient(seg.write_key, host=server.url, on_error=on_error, max_retries=3)
    assert client.gzip  # its default
    session(client, "user-2", "bea@example.com", "ORD-RS-1")
    client.flush()
    client.shutdown()
    assert errors == []
    check_session(db, seg.store.id, "bea@example.com", "ORD-RS-1")


def test_replayed_batch_changes_nothing(
    server: LiveServer, http: httpx.Client, db: Database, seg: SegmentStore
) -> None:
    msg = {
        "type": "track",
        "event": "Order Completed",
        "userId": "bob@example.com",
        "messageId": str(uuid.uuid4()),
        "properties": {
            "order_id": "ORD-R-1",
            "total": "30",
            "products": [{"product_id": "P", "name": "p", "price": 0.1, "quantity": 300}],
        },
    }
    body = gzip.compress(json.dumps({"batch": [msg], "writeKey": seg.write_key}).encode())
    for _ in range(3):
        r = http.post("/v1/batch/", content=body, headers={"Content-Encoding": "gzip"})
        assert r.status_code == 200, r.text
        assert r.json() == {"success": True}
    assert count_requests(db, seg.store.id) == 1
    conn = db.connect()
    try:
        row = conn.one(
            "SELECT response, body FROM requests WHERE store_id = ? AND channel = 'segment'",
            (seg.store.id,),
        )
        response = json.loads(row[0])
        assert response["results"][0]["status"] == "accepted"
        # the numeric text is read with a warning, as on every channel
        assert response["results"][0]["warnings"][0]["code"] == "coerced_number"
        assert json.loads(row[1])["mapping"] == "Order Completed -> purchase"
        assert (
            conn.scalar("SELECT total_price FROM purchases WHERE purchase_id = 'ORD-R-1'")
            == 30_000_000
        )
    finally:
        conn.close()


def test_verdicts_and_quarantine(http: httpx.Client, db: Database, seg: SegmentStore) -> None:
    auth = "Basic " + base64.b64encode(f"{seg.write_key}:".encode()).decode()
    bad = {
        "type": "track",
        "event": "Order Completed",
        "anonymousId": "a-1",
        "messageId": "m-bad",
        "properties": {"total": 10, "products": []},
    }
    huge = {
        "type": "track",
        "event": "Big",
        "anonymousId": "a-1",
        "messageId": "m-huge",
        "properties": {"x": "y" * 40_000},
    }
    r = http.post(
        "/v1/batch",
        json={"batch": [bad, huge, {"type": "nope", "anonymousId": "a"}]},
        headers={"Authorization": auth},
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    conn = db.connect()
    try:
        rows = conn.all(
            "SELECT type, code, errors FROM quarantine WHERE store_id = ? ORDER BY id",
            (seg.store.id,),
        )
    finally:
        conn.close()
    assert [(t, c) for t, c, _ in rows] == [
        ("purchase", "missing_field"),
        ("segment", "too_large"),
        ("segment", "unknown_type"),
    ]
    assert json.loads(rows[0][2])["error"]["path"] == "/events/0/purchase/purchaseId"
    # alone, a message over 32 KB is refused as Segment does
    r = http.post("/v1/track", json={**huge, "writeKey": seg.write_key})
    assert r.status_code == 400 and r.json()["code"] == "message_too_large"
    assert r.json()["success"] is False


def test_write_keys(http: httpx.Client, db: Database, seg: SegmentStore) -> None:
    msg = {"type": "identify", "userId": "u", "traits": {"email": "c@example.com"}}
    r = http.post("/v1/identify", json=msg)
    assert r.status_code == 401 and r.json()["code"] == "invalid_write_key"
    r = http.post("/v1/identify", json={**msg, "writeKey": "nope"})
    assert r.status_code == 401
    r = http.post("/api/write-keys", json={"name": "web"}, headers=seg.store.auth)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (
        http.post("/v1/identify", json={**msg, "writeKey": created["writeKey"]}).status_code == 200
    )
    listed = http.get("/api/write-keys", headers=seg.store.auth).json()["writeKeys"]
    assert [k["name"] for k in listed] == ["default", "web"]
    assert "writeKey" not in listed[1]
    conn = db.connect()
    try:  # stored hashed
        stored = [r[0] for r in conn.all("SELECT key_hash FROM segment_write_keys")]
    finally:
        conn.close()
    assert created["writeKey"] not in stored and len(stored[0]) == 64
    r = http.delete(f"/api/write-keys/{created['id']}", headers=seg.store.auth)
    assert r.status_code == 204
    assert (
        http.delete(f"/api/write-keys/{created['id']}", headers=seg.store.auth).status_code == 404
    )
    assert http.get("/api/write-keys").status_code == 401


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/batch/", "/v1/track/", "/v1/t", "/v1/p/"])
def test_paths(http: httpx.Client, seg: SegmentStore, path: str) -> None:
    msg = {"type": "track", "event": "Signed Up", "anonymousId": "x", "writeKey": seg.write_key}
    body = {"batch": [msg], "writeKey": seg.write_key} if "/b" in path else msg
    r = http.post(path, json=body)
    assert r.status_code == 200, r.text


def test_order_refunded_and_cancelled_reach_the_purchase_lifecycle(
    server: LiveServer, db: Database, seg: SegmentStore
) -> None:
    """Through the real SDK: a partial refund by amount, a return by products, a retry of
    the same message, and an Order Cancelled of another order; what is recorded."""
    errors, on_error = _errors()
    client = SegmentClient(seg.write_key, host=server.url, on_error=on_error, max_retries=3)
    session(client, "user-9", "eve@example.com", "ORD-LC-1")
    client.track(user_id="user-9", event="Order Refunded", properties={"order_id": "ORD-LC-1", "total": 10}, message_id="rf-amount")  # fmt: skip
    client.track(user_id="user-9", event="Order Refunded", properties={"order_id": "ORD-LC-1", "total": 10}, message_id="rf-amount")  # fmt: skip
    client.track(user_id="user-9", event="Order Refunded", properties={"order_id": "ORD-LC-1", "products": [{"product_id": "SKU-42", "quantity": 1}]}, message_id="rf-lines")  # fmt: skip
    client.track(user_id="user-9", event="Order Cancelled", properties={"order_id": "ORD-LC-2"}, message_id="cx")  # fmt: skip
    client.flush()
    client.shutdown()
    assert errors == []
    conn = db.connect()
    try:
        done = conn.all(
            "SELECT purchase_id, adjustment_id, kind FROM purchase_adjustments WHERE store_id = ? "
            "ORDER BY adjustment_id",
            (seg.store.id,),
        )
        waiting = conn.all(
            "SELECT purchase_id, kind FROM pending_adjustments WHERE store_id = ?",
            (seg.store.id,),
        )
    finally:
        conn.close()
    assert [tuple(r) for r in done] == [
        ("ORD-LC-1", "segment:rf-amount", "refund"),
        ("ORD-LC-1", "segment:rf-lines", "refund"),
    ]
    assert [tuple(r) for r in waiting] == [("ORD-LC-2", "cancellation")]  # not received yet
