"""Segment's limits and back-off answers: 429 with Retry-After over the rate, 413 over
500 KB, gzip bodies."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from shopevents.config import Settings
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.segment.conftest import SegmentStore


@pytest.fixture
def settings() -> Settings:
    base = Settings()
    ingest = base.ingest.__class__(
        rate_limit_per_client=2, rate_limit_exempt_loopback=False, retry_after_seconds=3
    )
    return Settings(worker=base.worker.__class__(enabled=False), ingest=ingest)


def test_rate_limit_and_size_limits(http: httpx.Client, seg: SegmentStore) -> None:
    msg = {"type": "track", "event": "Signed Up", "anonymousId": "x", "writeKey": seg.write_key}
    statuses = [http.post("/v1/track", json=msg) for _ in range(8)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert limited[0].headers["Retry-After"] == "3"
    assert limited[0].json()["code"] == "rate_limited" and limited[0].json()["success"] is False
    big = {"batch": [{**msg, "properties": {"x": "y" * 30_000}}] * 18, "writeKey": seg.write_key}
    body = gzip.compress(json.dumps(big).encode())
    assert len(body) < 100_000  # small on the wire, over 500 KB once read
    r = http.post("/v1/batch", content=body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


def test_a_revoked_write_key_is_refused_on_the_next_request(
    http: httpx.Client, seg: SegmentStore, db: Database
) -> None:
    msg = {"type": "track", "event": "Signed Up", "anonymousId": "y", "writeKey": seg.write_key}
    assert http.post("/v1/track", json=msg).status_code == 200
    conn = db.connect()
    try:
        with conn.transaction():
            key_id = stores.list_write_keys(conn, seg.store.id)[0].id
            stores.revoke_write_key(conn, seg.store.id, key_id, now=1)
    finally:
        conn.close()
    refused = http.post("/v1/track", json=msg)  # no wait: nothing keeps the key cached
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_write_key"
