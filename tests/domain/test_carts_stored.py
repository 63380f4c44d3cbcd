"""Carts: snapshot diffs, states, abandonment (exactly once, never after a purchase), purchases
closing carts in any order, and the REST views."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shopevents.clock import FixedClock
from shopevents.storage.database import Database
from tests.conftest import LiveServer, Settings
from tests.shop import Shop, cart, line, purchase

pytestmark = pytest.mark.cluster

MIN = 60


def acts(shop: Shop, kind: str) -> list[dict[str, Any]]:
    return [data for _, _, data in shop.activities(kind=kind)]


def states(shop: Shop) -> list[str]:
    return [c[3] for c in shop.carts()]


def test_snapshots_are_diffed_and_identical_ones_change_nothing(shop: Shop) -> None:
    t = shop.send([{"type": "page-visit"}], cart=cart("c1", line("A")))["trackerId"]
    assert states(shop) == ["active"]
    shop.clock.advance(60)
    out = shop.send([], tracker=t, cart=cart("c1", line("A"), line("B", 2)))
    assert out["cart"]["outcome"] == "updated"
    shop.clock.advance(60)
    shop.send([], tracker=t, cart=cart("c1", line("B", 1)))
    added = acts(shop, "cart-product-added")
    removed = acts(shop, "cart-product-removed")
    assert len(added) == 2 and added[1]["productId"] == "B" and added[1]["quantity"] == 2
    assert len(removed) == 2  # A removed, one B removed
    deadline = shop.one("SELECT abandon_at FROM carts")
    shop.clock.advance(60)
    out = shop.send([], tracker=t, cart=cart("c1", line("B", 1)))
    assert out["cart"]["outcome"] == "unchanged"
    assert shop.one("SELECT abandon_at FROM carts") == deadline
    assert len(acts(shop, "cart-product-added")) == 2


def test_constant_cart_id_from_two_visitors_makes_two_carts(shop: Shop) -> None:
    shop.send([], cart=cart("0", line("A")))
    shop.send([], cart=cart("0", line("B")))
    rows = shop.carts()
    assert len(rows) == 2 and rows[0][1] != rows[1][1]


def test_abandoned_exactly_once_after_the_delay_and_empty_carts_never(shop: Shop) -> None:
    t1 = shop.send([], cart=cart("c1", line("A")))["trackerId"]
    t2 = shop.send([], cart=cart("c2", line("A")))["trackerId"]
    shop.send([], tracker=t2, cart=cart("c2"))  # emptied
    assert sorted(states(shop)) == ["active", "empty"]
    shop.clock.advance(29 * MIN)
    assert shop.abandon() == 0
    shop.clock.advance(2 * MIN)
    assert shop.abandon() == 1
    assert shop.abandon() == 0
    shop.clock.advance(10 * 24 * 60 * MIN)
    assert shop.abandon() == 0
    assert sorted(states(shop)) == ["abandoned", "empty"]
    assert shop.one("SELECT COUNT(*) FROM outbox WHERE topic = 'cart.abandoned'") == 1
    assert len(acts(shop, "cart-abandoned")) == 1
    # touched again: active again, and can be abandoned again later
    shop.send([], tracker=t1, cart=cart("c1", line("A"), line("C")))
    assert sorted(states(shop)) == ["active", "empty"]
    reasons = [r[0] for r in shop.q("SELECT reason FROM cart_transitions ORDER BY id")]
    assert "changed after abandonment" in reasons


def test_purchase_with_cart_id_wins_over_abandonment(shop: Shop) -> None:
    t = shop.send([], cart=cart("c1", line("A")))["trackerId"]
    shop.clock.advance(29 * MIN)
    shop.send([purchase("P1", line("A"), cart_id="c1")], tracker=t)
    shop.clock.advance(60 * MIN)
    assert shop.abandon() == 0
    assert states(shop) == ["purchased"]
    assert shop.one("SELECT purchase_link FROM carts") == "explicit"


def test_purchase_before_the_last_snapshot_and_stale_snapshots(shop: Shop) -> None:
    t = shop.send([], cart=cart("c1", line("A")))["trackerId"]
    # the purchase of A+B arrives before the snapshot that added B
    shop.send([purchase("P1", line("A"), line("B"), cart_id="c1")], tracker=t)
    assert states(shop) == ["purchased"]
    out = shop.send([], tracker=t, cart=cart("c1", line("A"), line("B")))
    assert out["cart"]["outcome"] == "stale"
    out = shop.send([], tracker=t, cart=cart("c1", line("A")))  # the pre-purchase snapshot, late
    assert out["cart"]["outcome"] in ("stale", "created")
    shop.send([], tracker=t, cart=cart("c1"))  # emptied after checkout
    shop.clock.advance(24 * 60 * MIN)
    shop.abandon()
    first = shop.carts()[0]
    assert first[3] == "purchased"


def test_stale_snapshot_of_purchased_cart_changes_nothing_new_lines_start_a_new_cart(
    shop: Shop,
) -> None:
    t = shop.send([], cart=cart("c1", line("A")))["trackerId"]
    shop.send([purchase("P1", line("A"), cart_id="c1")], tracker=t)
    assert shop.send([], tracker=t, cart=cart("c1", line("A")))["cart"]["outcome"] == "stale"
    assert states(shop) == ["purchased"]
    assert shop.send([], tracker=t, cart=cart("c1", line("Z")))["cart"]["outcome"] == "created"
    assert states(shop) == ["purchased", "active"]


def test_purchase_arriving_before_any_snapshot_closes_the_cart(shop: Shop) -> None:
    t = shop.send([purchase("P1", line("A"), cart_id="c1")])["trackerId"]
    assert states(shop) == ["purchased"]
    assert shop.send([], tracker=t, cart=cart("c1", line("A")))["cart"]["outcome"] == "stale"
    shop.clock.advance(2 * 60 * MIN)
    assert shop.abandon() == 0


def test_purchase_without_cart_id_is_linked_by_inference(shop: Shop) -> None:
    t = shop.send([], cart=cart("c1", line("A"), line("B")))["trackerId"]
    shop.send([purchase("P1", line("A"), line("B"), line("C"))], tracker=t)
    assert states(shop) == ["purchased"]
    assert shop.one("SELECT purchase_link FROM carts") == "inferred"


def test_purchase_without_cart_id_not_holding_the_cart_leaves_it(shop: Shop) -> None:
    t = shop.send([], cart=cart("c1", line("A"), line("B")))["trackerId"]
    shop.send([purchase("P1", line("A"))], tracker=t)
    assert states(shop) == ["active"]


def test_purchase_of_abandoned_cart_recovers_it(shop: Shop) -> None:
    t = shop.send([], cart=cart("c1", line("A", 2, "12.5")))["trackerId"]
    shop.clock.advance(31 * MIN)
    assert shop.abandon() == 1
    shop.send([purchase("P1", line("A", 2, "12.5"), cart_id="c1")], tracker=t)
    assert states(shop) == ["recovered"]
    assert shop.one("SELECT recovered FROM purchases") == 1
    assert shop.one("SELECT COUNT(*) FROM outbox WHERE topic = 'cart.recovered'") == 1
    assert len(acts(shop, "cart-recovered")) == 1


def test_rest_views_of_carts_and_timeline(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    shop = Shop(db, clock, abandon_after=30 * MIN)
    try:
        from tests.conftest import make_store  # noqa: F401

        conn = shop.conn
        from shopevents.storage import stores

        with conn.transaction():
            key_id, secret = stores.create_api_key(conn, shop.store.id, now=1)
        auth = {"Authorization": f"apiKey {key_id}:{secret}"}
        t = shop.send(
            [{"type": "page-visit"}], email="ana@example.com", cart=cart("c1", line("A"))
        )["trackerId"]
        for i in range(5):
            clock.advance(1)
            shop.send([{"type": "search", "searchText": f"lamp {i}"}], tracker=t)
        shop.send([], cart=cart("c2", line("B")))
        clock.advance(31 * MIN)
        shop.abandon()
        live = LiveServer(settings, db, clock).start()
        try:
            with httpx.Client(base_url=live.url, headers=auth) as http:
                r = http.get(
                    "/api/carts", params={"status": "abandoned", "contact": "ana@example.com"}
                )
                items = r.json()["items"]
                assert [c["cartId"] for c in items] == ["c1"]
                detail = http.get(f"/api/carts/{items[0]['cartKey']}").json()
                assert [(h["from"], h["to"]) for h in detail["history"]] == [
                    (None, "active"),
                    ("active", "abandoned"),
                ]
                assert detail["history"][1]["reason"]
                assert detail["products"][0]["productId"] == "A"
                assert (
                    len(http.get("/api/carts", params={"status": "abandoned"}).json()["items"]) == 2
                )
                assert http.get("/api/carts", params={"status": "nope"}).status_code == 422
                assert http.get("/api/carts/999999").status_code == 404
                page1 = http.get(
                    "/api/contacts/ana@example.com/activity", params={"limit": 4}
                ).json()
                assert [a["type"] for a in page1["items"]] == [
                    "cart-abandoned",
                    "search",
                    "search",
                    "search",
                ]
                page2 = http.get(
                    "/api/contacts/ana@example.com/activity",
                    params={"limit": 4, "cursor": page1["nextCursor"]},
                ).json()
                assert [a["type"] for a in page2["items"]][:2] == ["search", "search"]
                for bad in ("9" * 30 + "-1", "1-" + "9" * 30, "x-1"):
                    r = http.get("/api/contacts/ana@example.com/activity", params={"cursor": bad})
                    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/cursor"
                all_types = [
                    a["type"]
                    for a in http.get(
                        "/api/contacts/ana@example.com/activity", params={"limit": 500}
                    ).json()["items"]
                ]
                assert all_types[-1] == "entity-created"
                assert "cart-product-added" in all_types and "web-page-visited" in all_types
                r = http.patch("/api/store", json={"abandonAfterSeconds": 5})
                assert r.status_code == 200 and r.json()["abandonAfterSeconds"] == 5
                assert http.patch("/api/store", json={"abandonAfterSeconds": -1}).status_code == 422
        finally:
            live.stop()
    finally:
        shop.close()


def test_two_worker_processes_abandon_each_cart_once(
    db: Database, db_url: str, clock: FixedClock
) -> None:
    clock.set(clock.now() - timedelta(days=30))
    shop = Shop(db, clock, abandon_after=60)
    try:
        for i in range(300):
            shop.send([], cart=cart(f"c{i}", line("A")))
    finally:
        shop.close()
    cmd = [sys.executable, "-m", "shopevents", "--database", db_url, "worker", "--once"]
    procs = [subprocess.Popen(cmd) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    with db.reader() as c:
        assert c.scalar("SELECT COUNT(*) FROM carts WHERE state = 'abandoned'") == 300
        assert c.scalar("SELECT COUNT(*) FROM cart_transitions WHERE to_state = 'abandoned'") == 300
        assert c.scalar("SELECT COUNT(*) FROM outbox WHERE topic = 'cart.abandoned'") == 300
