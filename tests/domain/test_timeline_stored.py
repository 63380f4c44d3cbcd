"""The timeline: activities of one contact at one instant share a row; pages over them
neither skip nor repeat an activity; rows written before the shared rows still read."""

from __future__ import annotations

from typing import Any

import pytest

from shopevents.domain import timeline
from shopevents.storage.database import Database
from tests.shop import Shop, cart, line

pytestmark = pytest.mark.cluster


def all_pages(shop: Shop, cid: str, limit: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before = None
    while True:
        page = timeline.page(shop.conn, shop.store.id, cid, limit + 1, before)
        out.extend(page[:limit])
        if len(page) <= limit:
            return out
        before = (page[limit - 1]["_at"], page[limit - 1]["id"])


def test_one_request_is_one_row_in_the_order_it_happened(shop: Shop) -> None:
    out = shop.send(
        [{"type": "page-visit"}, {"type": "search", "searchText": "mug"}],
        tracker="t1",
        email="ana@example.com",
        cart=cart("c1", line("A"), line("B", 2), line("C")),
    )
    cid = shop.contact_of(out["trackerId"])
    assert shop.one("SELECT COUNT(*) FROM activities WHERE contact_id = ?", (cid,)) == 1
    items = timeline.page(shop.conn, shop.store.id, cid, 50)
    assert [a["type"] for a in reversed(items)] == [
        "entity-created",
        "web-page-visited",
        "search",
        "cart-product-added",
        "cart-product-added",
        "cart-product-added",
    ]
    assert [a["data"].get("productId") for a in items[:3]] == ["C", "B", "A"]
    assert items[1]["data"]["quantity"] == 2
    ids = [a["id"] for a in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    events = dict(shop.q("SELECT idx, id FROM events WHERE contact_id = ?", (cid,)))
    assert items[-2]["eventId"] == events[0] and items[-3]["eventId"] == events[1]


def test_requests_of_one_transaction_keep_their_order(shop: Shop) -> None:
    shop.send([{"type": "page-visit"}], tracker="t1")
    cid = shop.contact_of("t1")
    shop.send_together(
        [
            {"events": [{"type": "search", "searchText": "one"}], "tracker": "t1"},
            {"events": [{"type": "search", "searchText": "two"}], "tracker": "t1"},
            {"events": [{"type": "search", "searchText": "three"}], "tracker": "t1"},
        ]
    )
    texts = [a["data"].get("searchText") for a in timeline.page(shop.conn, shop.store.id, cid)]
    assert texts[:3] == ["three", "two", "one"]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 50])
def test_pages_neither_skip_nor_repeat(shop: Shop, limit: int) -> None:
    tracker = "t1"
    shop.send([{"type": "page-visit"}], tracker=tracker, cart=cart("c1", line("A")))
    for n in range(6):
        shop.clock.advance(1 if n % 2 else 0)  # some requests share an instant
        shop.send(
            [{"type": "search", "searchText": f"s{n}"}] * (n % 3 + 1),
            tracker=tracker,
            cart=cart("c1", *[line(p) for p in "ABCDEFG"[: n + 1]]),
        )
    cid = shop.contact_of(tracker)
    everything = timeline.page(shop.conn, shop.store.id, cid, 500)
    # entity-created, page visit, line A; the searches; lines B to F
    assert len(everything) == 3 + sum(n % 3 + 1 for n in range(6)) + 5
    assert all_pages(shop, cid, limit) == everything


def test_a_row_holds_at_most_items_per_row(shop: Shop) -> None:
    many = timeline.ITEMS_PER_ROW + 5
    with shop.conn.transaction():
        timeline.add_many(
            shop.conn,
            shop.store.id,
            "c-many",
            1_000,
            [("search", None, {"searchText": str(i)}) for i in range(many)],
        )
    assert shop.one("SELECT COUNT(*) FROM activities WHERE contact_id = 'c-many'") == 2
    page = all_pages(shop, "c-many", 300)
    assert [a["data"]["searchText"] for a in page] == [str(i) for i in reversed(range(many))]


@pytest.mark.embedded("timeline storage calls on one connection, no request")
def test_a_statement_reading_the_timeline_sees_what_the_transaction_added(shop: Shop) -> None:
    with shop.conn.transaction():
        timeline.add(shop.conn, shop.store.id, "c-x", 1_000, "search", {"searchText": "a"})
        assert len(timeline.page(shop.conn, shop.store.id, "c-x")) == 1
        timeline.add(shop.conn, shop.store.id, "c-x", 1_000, "search", {"searchText": "b"})
    texts = [a["data"]["searchText"] for a in timeline.page(shop.conn, shop.store.id, "c-x")]
    assert texts == ["b", "a"]


@pytest.mark.embedded("timeline storage calls on one connection, no request")
def test_a_rolled_back_transaction_leaves_no_activity(shop: Shop) -> None:
    with pytest.raises(RuntimeError), shop.conn.transaction():
        timeline.add(shop.conn, shop.store.id, "c-y", 1_000, "search", {"searchText": "a"})
        raise RuntimeError("abort")
    with shop.conn.transaction():
        timeline.add(shop.conn, shop.store.id, "c-y", 2_000, "search", {"searchText": "b"})
    texts = [a["data"]["searchText"] for a in timeline.page(shop.conn, shop.store.id, "c-y")]
    assert texts == ["b"]


@pytest.mark.embedded("migrates a database itself")
def test_activities_stored_one_per_row_read_after_the_migration(db_url: str) -> None:
    """A database made before activities shared rows: its activities keep their order and
    content once migrated."""
    db = Database(db_url)
    try:
        db.migrate(up_to=399)
        conn = db.connect()
        try:
            with conn.transaction():
                old = [
                    ("s1", "c1", 100, "entity-created", None, '{"email":"a@example.com"}'),
                    ("s1", "c1", 100, "web-page-visited", 7, '{"url":"https://x/","title":"X"}'),
                    ("s1", "c1", 200, "purchase", None, '{"purchaseId":"P1","totalPrice":12.5}'),
                    ("s1", "c2", 100, "search", 8, '{"searchText":"tea"}'),
                ]
                for row in old:
                    conn.execute(
                        "INSERT INTO activities (store_id, contact_id, at, type, event_id, data) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        row,
                    )
        finally:
            conn.close()
        assert db.pending_migrations()
        db.migrate()
        conn = db.connect()
        try:
            items = timeline.page(conn, "s1", "c1")
            assert [(a["type"], a["eventId"], a["data"]) for a in items] == [
                ("purchase", None, {"purchaseId": "P1", "totalPrice": 12.5}),
                ("web-page-visited", 7, {"url": "https://x/", "title": "X"}),
                ("entity-created", None, {"email": "a@example.com"}),
            ]
            with conn.transaction():
                timeline.add(conn, "s1", "c1", 300, "search", {"searchText": "new"})
            assert [a["type"] for a in timeline.page(conn, "s1", "c1")][:2] == [
                "search",
                "purchase",
            ]
            assert [a["type"] for a in timeline.page(conn, "s1", "c2")] == ["search"]
        finally:
            conn.close()
    finally:
        db.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1767225600000000-7171", (1767225600000000, 7171)),
        ("0-0", (0, 0)),
        ("9223372036854775807-1", (2**63 - 1, 1)),
        ("9223372036854775808-1", None),  # past 64 bits: not a cursor we gave
        ("1-" + "9" * 30, None),
        ("5--3", None),
        ("-3-5", None),
        ("12", None),
        ("a-b", None),
        ("１-2", None),  # a full-width digit
        ("", None),
    ],
)
def test_cursors(text: str, expected: tuple[int, int] | None) -> None:
    assert timeline.parse_cursor(text) == expected
