"""Identity: trackers, identification, merges and their undo (reference §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shopevents.domain import identity
from shopevents.storage import reads
from tests.shop import Shop, cart, line, purchase

pytestmark = pytest.mark.cluster


def test_new_visitor_gets_a_tracker_and_keeps_it(shop: Shop) -> None:
    first = shop.send([{"type": "page-visit"}])
    tracker = first["trackerId"]
    assert len(tracker) == 24
    contact = shop.contact_of(tracker)
    again = shop.send([{"type": "page-visit"}], tracker=tracker)
    assert again["trackerId"] == tracker
    assert shop.contact_of(tracker) == contact
    assert shop.one("SELECT COUNT(*) FROM contacts") == 1
    kinds = [kind for _, kind, _ in shop.activities(contact)]
    assert kinds == ["entity-created", "web-page-visited", "web-page-visited"]


def test_anonymous_tracker_becomes_identified(shop: Shop) -> None:
    tracker = shop.send([{"type": "page-visit"}])["trackerId"]
    anon = shop.contact_of(tracker)
    shop.send(
        [{"type": "login"}], tracker=tracker, email="Ana@Example.com", entity={"_name": "Ana"}
    )
    assert shop.contact_of(tracker) == anon
    row = shop.q("SELECT email, fields FROM contacts WHERE id = ?", (anon,))[0]
    assert row[0] == "ana@example.com"
    assert '"_name":"Ana"' in row[1]
    kinds = [kind for _, kind, _ in shop.activities(anon)]
    assert "entity-identified" in kinds and "login" in kinds


def test_anonymous_tracker_logging_in_as_known_email_is_merged_and_can_be_undone(
    shop: Shop,
) -> None:
    known_tracker = shop.send([{"type": "page-visit"}], email="ana@example.com")["trackerId"]
    known = shop.contact_of(known_tracker)
    shop.send([purchase("P-1", line("A"))], tracker=known_tracker)

    anon_tracker = shop.send([{"type": "page-visit"}])["trackerId"]
    anon = shop.contact_of(anon_tracker)
    shop.send(
        [{"type": "product-visited", "product": line("B")}],
        tracker=anon_tracker,
        cart=cart("c-9", line("B")),
    )
    events_before = shop.one("SELECT COUNT(*) FROM events")
    anon_events = shop.one("SELECT COUNT(*) FROM events WHERE contact_id = ?", (anon,))
    assert anon_events == 2

    shop.send([{"type": "login"}], tracker=anon_tracker, email="ana@example.com")
    assert shop.contact_of(anon_tracker) == known
    assert shop.one("SELECT COUNT(*) FROM events WHERE contact_id = ?", (anon,)) == 0
    assert (
        shop.one("SELECT COUNT(*) FROM events WHERE contact_id = ?", (known,)) == events_before + 1
    )
    assert shop.one("SELECT contact_id FROM carts WHERE cart_id = 'c-9'") == known
    assert shop.one("SELECT merged_into FROM contacts WHERE id = ?", (anon,)) == known
    merge = shop.q("SELECT id, from_contact, into_contact, request_id, at FROM merges")
    assert (
        len(merge) == 1 and merge[0][1] == anon and merge[0][2] == known and merge[0][3] is not None
    )
    assert len(shop.activities(known, "entity-merged")) == 1
    assert shop.one("SELECT COUNT(*) FROM outbox WHERE topic = 'contact.merged'") == 1

    with shop.conn.transaction():
        assert identity.unmerge(shop.conn, shop.store.id, int(merge[0][0]), 1)
    assert shop.contact_of(anon_tracker) == anon
    assert shop.one("SELECT COUNT(*) FROM events WHERE contact_id = ?", (anon,)) == anon_events
    assert shop.one("SELECT contact_id FROM carts WHERE cart_id = 'c-9'") == anon
    assert shop.one("SELECT merged_into FROM contacts WHERE id = ?", (anon,)) is None
    details = reads.contact_details(shop.conn, shop.store.id, known)
    assert details["merges"][0]["undoneAt"] is not None
    with shop.conn.transaction():
        assert not identity.unmerge(shop.conn, shop.store.id, int(merge[0][0]), 2)
    # aggregates came back with the purchase that stayed with the known contact
    assert shop.one("SELECT total_purchases FROM contacts WHERE id = ?", (known,)) == 1


def test_shared_device_switches_contact_without_merging(shop: Shop) -> None:
    tracker = shop.send([{"type": "page-visit"}], email="ana@example.com")["trackerId"]
    ana = shop.contact_of(tracker)
    shop.send([{"type": "page-visit"}], tracker=tracker, email="bob@example.com")
    bob = shop.contact_of(tracker)
    assert bob != ana
    assert shop.one("SELECT email FROM contacts WHERE id = ?", (bob,)) == "bob@example.com"
    assert shop.one("SELECT COUNT(*) FROM merges") == 0
    shop.send([{"type": "page-visit"}], tracker=tracker, email="ana@example.com")
    assert shop.contact_of(tracker) == ana


def test_entity_info_updates_fields_with_coercion_warnings(shop: Shop) -> None:
    out = shop.send(
        [{"type": "page-visit"}],
        email="c@example.com",
        entity={
            "_points": "12",
            "_newsletterSubscriptionStatus": "SUBSCRIBED",
            "loyalty_tier": "gold",
            "_birthdate": "1980-05-01T00:00:00+0000",
        },
    )
    codes = sorted(w["code"] for w in out["entityInfo"]["warnings"])
    assert codes == ["coerced_number", "normalized_value"]
    contact = reads.contact_by_email(shop.conn, shop.store.id, "c@example.com")
    assert contact is not None
    assert contact["_points"] == 12
    assert contact["_newsletterSubscriptionStatus"] == "subscribed"
    assert contact["loyalty_tier"] == "gold"
    assert contact["_birthdate"] == "1980-05-01T00:00:00+0000"


def test_invalid_primary_key_stays_anonymous_with_warning(shop: Shop) -> None:
    out = shop.send([{"type": "page-visit"}], email="not-an-email")
    assert out["entityInfo"]["warnings"][0]["code"] == "invalid_email"
    assert shop.one("SELECT email FROM contacts") is None


def test_aggregates_count_only_counted_purchases(shop: Shop) -> None:
    t = shop.send([purchase("P-1", line("A", 2, "10.10"))], email="d@example.com")["trackerId"]
    shop.send([purchase("P-1", line("A", 2, "10.10"))], tracker=t)  # duplicate
    shop.send([purchase("P-1", line("A", 3, "10.10"))], tracker=t)  # conflict
    shop.send([purchase("P-2", line("B", 1, "5.05"))], tracker=t)
    contact = reads.contact_by_email(shop.conn, shop.store.id, "d@example.com")
    assert contact is not None
    assert contact["_totalPurchases"] == 2
    assert str(contact["_totalPurchasesAmount"]) == "25.25"
    assert str(contact["_averagePurchasesAmount"]) == "12.63"
    assert contact["_firstPurchaseDate"] is not None and contact["_lastPurchaseDate"] is not None


def test_purchase_aggregates_of_a_contact_created_in_the_same_transaction(shop: Shop) -> None:
    """A contact created and buying in one transaction is written once, with its purchases
    counted; later purchases add to it with an UPDATE."""

    def order(pid: str, price: str, date: str) -> dict[str, Any]:
        ev = purchase(pid, line("A", 1, price))
        ev["purchase"]["purchaseDate"] = date
        return ev

    email = "new@example.com"
    shop.send_together(
        [
            {"events": [order("P1", "10.10", "2026-01-03T10:00:00Z")], "email": email},
            {"events": [order("P2", "5.05", "2026-01-01T10:00:00Z")], "email": email},
            {"events": [order("P1", "10.10", "2026-01-03T10:00:00Z")], "email": email},
        ]
    )

    def row() -> Any:
        return shop.q(
            "SELECT total_purchases, total_amount, first_purchase_at, last_purchase_at "
            "FROM contacts WHERE email = ?",
            (email,),
        )[0]

    count, amount, first, last = row()
    assert (int(count), Decimal(str(amount))) == (2, Decimal("15.15"))
    assert first == 1767261600000000 and last == 1767434400000000  # Jan 1 and Jan 3, 10:00
    shop.send([order("P3", "1", "2026-01-02T10:00:00Z")], email=email)
    count, amount, first, last = row()
    assert (int(count), Decimal(str(amount))) == (3, Decimal("16.15"))
    assert first == 1767261600000000 and last == 1767434400000000
    shop.send_together(  # fields read back mid-batch: the new contact is written first
        [
            {"events": [], "email": "later@example.com"},
            {"events": [], "email": "later@example.com", "entity": {"_name": "Lu"}},
            {"events": [order("P4", "2", "2026-01-05T10:00:00Z")], "email": "later@example.com"},
        ]
    )
    got = shop.q(
        "SELECT total_purchases, total_amount, fields FROM contacts WHERE email = ?",
        ("later@example.com",),
    )[0]
    assert (int(got[0]), Decimal(str(got[1]))) == (1, Decimal("2")) and "Lu" in got[2]
