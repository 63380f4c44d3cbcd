"""Requests applied together in one transaction (warmed up, with the transaction's memo of
trackers, e-mails and carts, and queued rows) leave the same state and give the same answers
as the same requests applied one transaction each. Generated sequences, both backends."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopevents.clock import FixedClock
from shopevents.storage.database import Conn, Database
from tests.shop import Shop, cart, line, purchase

PRODUCTS = ["A", "B"]
lines_st = st.lists(
    st.tuples(st.sampled_from(PRODUCTS), st.integers(1, 3)), max_size=3, unique_by=lambda t: t[0]
)
request_st = st.fixed_dictionaries(
    {
        "visitor": st.integers(0, 2),
        "email": st.one_of(st.none(), st.sampled_from(["a@x.example", "b@x.example"])),
        "cart": st.one_of(st.none(), st.tuples(st.sampled_from(["c1", "0"]), lines_st)),
        "page": st.booleans(),
        "purchase": st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(["P1", "P2", "P3"]),
                st.one_of(st.none(), st.sampled_from(["c1", "0"])),
                lines_st.filter(bool),
            ),
        ),
        "key": st.one_of(st.none(), st.sampled_from(["r1", "r2"])),
    }
)


def _kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    if spec["page"]:
        events.append({"type": "page-visit"})
    if spec["purchase"] is not None:
        pid, cart_id, spec_lines = spec["purchase"]
        events.append(purchase(pid, *(line(p, q) for p, q in spec_lines), cart_id=cart_id))
    out: dict[str, Any] = {"events": events, "tracker": f"t{spec['visitor']}"}
    if spec["email"]:
        out["email"] = spec["email"]
    if spec["cart"] is not None:
        cart_id, spec_lines = spec["cart"]
        out["cart"] = cart(cart_id, *(line(p, q) for p, q in spec_lines))
    if spec["key"]:
        out["request_id"] = spec["key"]
    return out


def _answer(resp: dict[str, Any]) -> Any:
    return (
        [(r["status"], r.get("code")) for r in resp["results"]],
        resp.get("cart"),
        resp.get("entityInfo"),
        resp.get("duplicateRequest", False),
    )


def _state(shop: Shop) -> dict[str, Any]:
    sid = shop.store.id
    trackers: dict[str, list[str]] = {}
    for tracker, cid in shop.q(
        "SELECT tracker_id, contact_id FROM trackers WHERE store_id = ?", (sid,)
    ):
        trackers.setdefault(cid, []).append(tracker)
    names: dict[str, str] = {}
    for cid, email in shop.q("SELECT id, email FROM contacts WHERE store_id = ?", (sid,)):
        names[cid] = email or "anon:" + ",".join(sorted(trackers.get(cid, [])))

    def who(cid: str | None) -> str:
        return "-" if cid is None else names[cid]

    return {
        "contacts": sorted(
            (names[r[0]], r[1] is None, int(r[2]), str(r[3]))
            for r in shop.q(
                "SELECT id, merged_into, total_purchases, total_amount FROM contacts WHERE store_id = ?",
                (sid,),
            )
        ),
        "trackers": sorted((t, names[c]) for c, ts in trackers.items() for t in ts),
        "carts": sorted(
            (who(r[0]), r[1], r[2], r[3])
            for r in shop.q(
                "SELECT contact_id, cart_id, state, lines FROM carts WHERE store_id = ?", (sid,)
            )
        ),
        "events": Counter(
            (who(r[0]), r[1], r[2])
            for r in shop.q(
                "SELECT contact_id, type, status FROM events WHERE store_id = ?", (sid,)
            )
        ),
        "activities": Counter((who(cid), kind) for cid, kind, _ in shop.activities()),
        "outbox": Counter(
            r[0] for r in shop.q("SELECT topic FROM outbox WHERE store_id = ?", (sid,))
        ),
        "purchases": sorted(
            (r[0], who(r[1]), int(r[2]))
            for r in shop.q(
                "SELECT purchase_id, contact_id, total_price FROM purchases WHERE store_id = ?",
                (sid,),
            )
        ),
        "purchase_lines": sorted(
            (r[0], r[1], int(r[2]), int(r[3]))
            for r in shop.q(
                "SELECT p.purchase_id, l.product_id, l.quantity, l.price FROM purchase_lines l "
                "JOIN purchases p ON p.id = l.purchase_row WHERE p.store_id = ?",
                (sid,),
            )
        ),
        "conflicts": Counter(
            r[0]
            for r in shop.q("SELECT purchase_id FROM purchase_conflicts WHERE store_id = ?", (sid,))
        ),
        "requests": shop.one("SELECT COUNT(*) FROM requests WHERE store_id = ?", (sid,)),
        "transitions": Counter(
            (r[0], r[1])
            for r in shop.q(
                "SELECT from_state, to_state FROM cart_transitions WHERE store_id = ?", (sid,)
            )
        ),
    }


def _assert_aggregates_follow_the_ledger(shop: Shop) -> None:
    """Every contact's purchase aggregates are those of the purchases it holds."""
    held: dict[str, list[tuple[int, int]]] = {}
    for cid, price, at in shop.q(
        "SELECT contact_id, total_price, purchased_at FROM purchases WHERE store_id = ?",
        (shop.store.id,),
    ):
        held.setdefault(cid, []).append((int(price), int(at)))
    for cid, count, amount, first, last in shop.q(
        "SELECT id, total_purchases, total_amount, first_purchase_at, last_purchase_at "
        "FROM contacts WHERE store_id = ?",
        (shop.store.id,),
    ):
        mine = held.get(cid, [])
        assert int(count) == len(mine), cid
        assert Decimal(str(amount)) == sum(Decimal(p) / 1_000_000 for p, _ in mine), cid
        assert first == (min(a for _, a in mine) if mine else None), cid
        assert last == (max(a for _, a in mine) if mine else None), cid


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(request_st, min_size=1, max_size=12), seed=st.integers(0, 10**6))
def test_a_batch_equals_the_same_requests_one_by_one(
    db: Database, conn: Conn, specs: list[dict[str, Any]], seed: int
) -> None:
    clock = FixedClock()
    alone = Shop(db, clock, name=f"alone-{seed}", conn=conn)
    together = Shop(db, clock, name=f"together-{seed}", conn=conn)
    try:
        requests = [_kwargs(s) for s in specs]
        answers_alone = [_answer(alone.send(**r)) for r in requests]
        answers_together = [_answer(a) for a in together.send_together(requests)]
        assert answers_together == answers_alone
        assert _state(together) == _state(alone)
        _assert_aggregates_follow_the_ledger(alone)
        _assert_aggregates_follow_the_ledger(together)
    finally:
        alone.close()
        together.close()
