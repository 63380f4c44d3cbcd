"""The intake service's two drivers agree: `intake.answer` (what a cluster collector answers
from the verdicts alone) is the answer the transaction gives, less the parts only the
database knows; and a request applied with a collector's decisions (its intake id, a minted
tracker, purchase verdicts) writes what those decisions say. Both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shopevents.clock import FixedClock, to_micros
from shopevents.ingest import intake
from shopevents.storage.database import Database
from tests.shop import Shop, cart, line, purchase


@pytest.fixture
def shop(db: Database) -> Iterator[Shop]:
    s = Shop(db, FixedClock())
    yield s
    s.close()


def _apply(shop: Shop, prepared: intake.Prepared) -> dict[str, Any]:
    with shop.conn.transaction():
        return intake.apply(shop.conn, prepared, to_micros(shop.clock.now()))


def _statuses(prepared: intake.Prepared, response: dict[str, Any]) -> dict[int, str]:
    """The purchase verdicts of an answer, as a collector would have decided them."""
    return {
        r["index"]: r["status"]
        for r in response["results"]
        if r["type"] == "purchase" and r["status"] != "rejected"
    }


def test_answer_is_the_transactions_answer_without_what_only_the_database_knows(
    shop: Shop,
) -> None:
    shop.send([purchase("P0", line("A"))], tracker="t-old")
    requests: list[dict[str, Any]] = [
        {  # accepted page visit, a purchase that is new, one already stored, a rejected event
            "events": [
                {"type": "page-visit"},
                purchase("P1", line("A", 2)),
                purchase("P0", line("A")),
                purchase("P0", line("B", 3)),
                {"type": "search"},
            ],
            "tracker": "t1",
            "email": "a@x.example",
            "cart": cart("c1", line("A"), line("B")),
        },
        {"events": [{"type": "page-visit"}], "cart": {"cartId": 5}},  # no tracker; bad cart
        {"events": [], "entity": {"primaryKey": "not an e-mail"}},  # a warning
    ]
    answers = []
    for kwargs in requests:
        prepared = shop.prepare(**kwargs)
        applied = _apply(shop, prepared)
        answers.append(applied)
        built = intake.answer(prepared, applied["trackerId"], _statuses(prepared, applied))
        assert applied.get("cart", {}).pop("outcome", "created") == "created"
        assert built == applied
    # Every kind of part was compared: each purchase verdict, a rejection, each part's status.
    assert [r["status"] for r in answers[0]["results"]] == [
        "accepted",
        "accepted",
        "duplicate",
        "conflict",
        "rejected",
    ]
    assert answers[1]["cart"]["status"] == "rejected"
    assert answers[2]["entityInfo"]["warnings"][0]["code"] == "invalid_email"


def test_answer_gives_the_collectors_purchase_verdicts(shop: Shop) -> None:
    prepared = shop.prepare(
        [{"type": "page-visit"}, purchase("P1", line("A")), purchase("P2", line("B"))],
        tracker="t1",
    )
    built = intake.answer(prepared, "t1", {1: "duplicate", 2: "conflict"})
    assert [r["status"] for r in built["results"]] == ["accepted", "duplicate", "conflict"]
    assert built["trackerId"] == "t1"
    assert not shop.q("SELECT 1 FROM requests")  # pure: nothing written


def test_decided_duplicate_changes_nothing_the_ledger_holds(shop: Shop) -> None:
    shop.send([purchase("P1", line("A"))], tracker="t1")
    prepared = shop.prepare([purchase("P1", line("A"))], tracker="t1")
    prepared.decided = {0: "duplicate"}
    answer = _apply(shop, prepared)
    assert answer["results"][0]["status"] == "duplicate"
    assert shop.one("SELECT COUNT(*) FROM purchases") == 1
    assert not shop.q("SELECT 1 FROM purchase_conflicts")
    assert shop.one("SELECT total_purchases FROM contacts") == 1


def test_decided_duplicate_records_a_purchase_the_ledger_lacks(shop: Shop) -> None:
    # Its first request was claimed but never published (the collector died in between):
    # the retry, answered `duplicate`, brings the purchase into the ledger, once.
    prepared = shop.prepare([purchase("P1", line("A"))], tracker="t1")
    prepared.decided = {0: "duplicate"}
    answer = _apply(shop, prepared)
    assert answer["results"][0]["status"] == "duplicate"
    assert shop.one("SELECT COUNT(*) FROM purchases") == 1
    assert not shop.q("SELECT 1 FROM purchase_conflicts")
    assert shop.one("SELECT total_purchases FROM contacts") == 1
    again = shop.prepare([purchase("P1", line("A"))], tracker="t1")
    again.decided = {0: "duplicate"}
    _apply(shop, again)
    assert shop.one("SELECT COUNT(*) FROM purchases") == 1


def test_decided_conflict_is_kept_for_review_and_not_counted(shop: Shop) -> None:
    shop.send([purchase("P1", line("A"))], tracker="t1")
    prepared = shop.prepare([purchase("P1", line("A", 5))], tracker="t1")
    prepared.decided = {0: "conflict"}
    answer = _apply(shop, prepared)
    assert answer["results"][0]["status"] == "conflict"
    assert shop.one("SELECT COUNT(*) FROM purchases") == 1
    assert shop.one("SELECT COUNT(*) FROM purchase_conflicts") == 1
    assert shop.one("SELECT total_purchases FROM contacts") == 1
    kinds = [r[0] for r in shop.q("SELECT topic FROM outbox ORDER BY id")]
    assert kinds.count("purchase.conflict") == 1


def test_decided_accepted_records_the_purchase(shop: Shop) -> None:
    prepared = shop.prepare([purchase("P1", line("A", 2))], tracker="t1")
    prepared.decided = {0: "accepted"}
    answer = _apply(shop, prepared)
    assert answer["results"][0]["status"] == "accepted"
    assert shop.one("SELECT total_quantity FROM purchases WHERE purchase_id = 'P1'") == 2
    assert shop.one("SELECT total_purchases FROM contacts") == 1


def test_minted_tracker_is_the_contacts_and_intake_id_is_stored(shop: Shop) -> None:
    prepared = shop.prepare([{"type": "page-visit"}])
    prepared.tracker_id = "0123456789abcdef01234567"
    prepared.intake_id = "f" * 32
    answer = _apply(shop, prepared)
    assert answer["trackerId"] == "0123456789abcdef01234567"
    assert shop.contact_of("0123456789abcdef01234567")
    assert shop.one("SELECT intake_id FROM requests") == "f" * 32
    # The request's own tracker wins over a minted one.
    again = shop.prepare([{"type": "page-visit"}], tracker="own")
    again.tracker_id = "0123456789abcdef0123ffff"
    assert _apply(shop, again)["trackerId"] == "own"


def test_a_request_applied_again_by_its_intake_id_changes_nothing(shop: Shop) -> None:
    def counts() -> list[int]:
        tables = ("requests", "events", "trackers", "contacts", "carts", "purchases", "outbox")
        return [shop.one(f"SELECT COUNT(*) FROM {t}") for t in tables]

    def prepared() -> intake.Prepared:
        p = shop.prepare(
            [{"type": "page-visit"}, purchase("P1", line("A"))],
            cart=cart("c1", line("A")),
        )
        p.intake_id, p.tracker_id, p.decided = "a" * 32, "0123456789abcdef01234567", {1: "accepted"}
        return p

    first = _apply(shop, prepared())
    before = counts()
    assert before[0] == 1 and before[5] == 1
    assert _apply(shop, prepared()) == first  # looked up alone
    now = to_micros(shop.clock.now())
    with shop.conn.transaction(pipelined=True):  # looked up by the warm-up, twice in one batch
        batch = [prepared(), prepared()]
        intake.warm(shop.conn, batch)
        assert [intake.apply(shop.conn, p, now) for p in batch] == [first, first]
    assert counts() == before
