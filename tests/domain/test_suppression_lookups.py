"""An unknown tracker is checked against the store's suppression entries (erased contacts'
trackers); a store with none is asked about them once per transaction, not per tracker."""

from __future__ import annotations

from typing import Any

import pytest

from shopevents.domain import erasure, identity
from shopevents.storage import erasure as stored
from shopevents.storage.database import Database
from tests.conftest import StoreInfo

NOW = 1_700_000_000_000_000


def test_a_store_without_suppressions_is_asked_once_per_transaction(
    db: Database, store: StoreInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real = stored.any_suppressions

    def counting(conn: Any, store_id: str) -> bool:
        asked.append(store_id)
        return real(conn, store_id)

    monkeypatch.setattr(stored, "any_suppressions", counting)
    conn = db.connect()
    try:
        for _ in range(2):
            with conn.transaction():
                for i in range(5):
                    identity.resolve(conn, store.id, f"tracker-{len(asked)}-{i}", None, NOW)
    finally:
        conn.close()
    assert asked == [store.id, store.id]  # one per transaction


def test_an_erasure_in_the_transaction_is_seen_by_the_next_tracker(
    db: Database, store: StoreInfo
) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            identity.resolve(conn, store.id, "t-erased", "gone@example.com", NOW)
        with conn.transaction():
            assert not erasure.tracker_suppressed(conn, store.id, "t-other")
            out = erasure.request(conn, store.id, "gone@example.com", "test", NOW, "erasure-1")
            assert out.status == "done"
            assert erasure.tracker_suppressed(conn, store.id, "t-erased")
    finally:
        conn.close()
