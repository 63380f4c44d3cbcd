"""Retention on both backends: raw request bodies and quarantined events older than the
store's retention are pruned by the worker's step in bounded batches (the request rows, their
answers and events stay); newer ones are kept; the setting over REST and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import FixedClock, to_micros
from shopevents.domain import retention
from shopevents.storage import retention as retentions
from shopevents.storage.database import Database
from tests.conftest import make_store
from tests.shop import Shop

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _bodies(shop: Shop) -> list[tuple[int, int]]:
    """(received day, body length) of the store's requests, oldest first."""
    rows = shop.conn.all(
        "SELECT received_at, body FROM requests WHERE store_id = ? ORDER BY received_at, id",
        (shop.store.id,),
    )
    return [((int(r[0]) - to_micros(T0)) // retention.DAY_US, len(bytes(r[1]))) for r in rows]


def test_old_bodies_and_quarantine_are_pruned_new_ones_kept(db: Database) -> None:
    clock = FixedClock(T0)
    shop = Shop(db, clock)
    other = Shop(db, clock, name="Other")
    try:
        for day in (0, 10, 50, 95):
            clock.set(T0 + timedelta(days=day))
            for _ in range(3):
                shop.send([{"type": "page-visit"}, {"type": "no-such-type"}])
            other.send([{"type": "page-visit"}])
        with shop.conn.transaction():
            retentions.set_days(shop.conn, shop.store.id, 30)
        count = "SELECT COUNT(*) FROM events WHERE store_id = ?"
        events = shop.conn.scalar(count, (shop.store.id,))
        assert events == 12
        now = to_micros(T0 + timedelta(days=101))
        # bounded batches: at most 2 requests a round, until nothing is due
        rounds = []
        while True:
            with shop.conn.transaction():
                n = retention.prune_due(shop.conn, now, limit=2)
            if not n:
                break
            rounds.append(n)
            assert len(rounds) < 50
        assert len(rounds) >= 3  # 9 old requests, at most 2 of them a round, per store
        got = _bodies(shop)
        assert [d for d, size in got if size == 0] == [0, 0, 0, 10, 10, 10, 50, 50, 50]
        assert [d for d, size in got if size > 0] == [95, 95, 95]
        quarantined = shop.conn.all(
            "SELECT received_at FROM quarantine WHERE store_id = ?", (shop.store.id,)
        )
        assert len(quarantined) == 3
        # the rows and their events stay: counts do not change
        assert shop.conn.scalar(count, (shop.store.id,)) == events
        # the other store keeps the default, 90 days: only day 0 and 10 are past it
        rows = shop.conn.all(
            "SELECT received_at, body FROM requests WHERE store_id = ? ORDER BY received_at",
            (other.store.id,),
        )
        assert [len(bytes(r[1])) > 0 for r in rows] == [False, False, True, True]
        with shop.conn.transaction():
            assert retention.prune_due(shop.conn, now) == 0
    finally:
        shop.close()
        other.close()


def test_the_setting_over_rest(http: Any, db: Database) -> None:
    store = make_store(db)
    h = store.auth
    got = http.get("/api/store/retention", headers=h).json()
    assert got == {"retentionDays": 90, "default": True, "prunedUntil": None}
    r = http.patch("/api/store/retention", json={"retentionDays": 30}, headers=h)
    assert r.status_code == 200 and r.json()["retentionDays"] == 30 and not r.json()["default"]
    assert (
        http.patch("/api/store/retention", json={"retentionDays": 45.0}, headers=h).json()[
            "retentionDays"
        ]
        == 45
    )
    for bad in (0, 4000, "x", True, 1.5):
        r = http.patch("/api/store/retention", json={"retentionDays": bad}, headers=h)
        assert r.status_code == 422, bad
        assert r.json()["validationErrors"][0]["path"] == "/retentionDays"
    assert http.patch("/api/store/retention", json={}, headers=h).status_code == 422
    r = http.patch("/api/store/retention", json={"retentionDays": None}, headers=h)
    assert r.json() == {"retentionDays": 90, "default": True, "prunedUntil": None}


def test_the_setting_from_the_command_line(db_url: str, db: Database) -> None:
    store = make_store(db, "Retained")
    runner = CliRunner()
    base = ["--database", db_url, "stores", "retention", "--store", "Retained"]
    r = runner.invoke(main, [*base, "--days", "45"])
    assert r.exit_code == 0 and json.loads(r.output)["retentionDays"] == 45, r.output
    r = runner.invoke(main, base)
    assert json.loads(r.output)["default"] is False
    bad = runner.invoke(main, [*base, "--days", "0"])
    assert bad.exit_code == 2 and "0 is not in the range" in bad.output
    r = runner.invoke(main, [*base, "--default"])
    assert json.loads(r.output) == {"retentionDays": 90, "default": True, "prunedUntil": None}
    _ = store
