"""Properties of carts, purchases and merges over generated sequences, on both backends:
no purchased cart is ever abandoned; every active cart untouched past its delay is abandoned
exactly once; revenue equals the sum of distinct purchases; merges lose no event."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopevents.clock import FixedClock
from shopevents.storage.database import Conn, Database
from tests.natscluster import Rig
from tests.shop import Shop, cart, line, purchase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DELAY = 30 * 60
VISITORS = 3
PRODUCTS = ["A", "B", "C"]

lines_st = st.lists(
    st.tuples(st.sampled_from(PRODUCTS), st.integers(1, 3)), max_size=3, unique_by=lambda t: t[0]
)

op_st = st.one_of(
    st.tuples(
        st.just("snapshot"),
        st.integers(0, VISITORS - 1),
        st.sampled_from(["c1", "c2", "0"]),
        lines_st,
    ),
    st.tuples(
        st.just("purchase"),
        st.integers(0, VISITORS - 1),
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.one_of(st.none(), st.sampled_from(["c1", "c2", "0"])),
        lines_st.filter(bool),
        st.booleans(),
    ),
    st.tuples(
        st.just("login"),
        st.integers(0, VISITORS - 1),
        st.sampled_from(["a@x.example", "b@x.example"]),
    ),
    st.tuples(st.just("page"), st.integers(0, VISITORS - 1)),
    st.tuples(st.just("wait"), st.sampled_from([10, 20 * 60, 40 * 60])),
    st.tuples(
        st.just("work"),
    ),
)


def _lines(spec: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [line(pid, qty, "9.99") for pid, qty in spec]


def test_cart_and_purchase_invariants(db: Database, conn: Conn, rig: Rig | None) -> None:
    # In cluster mode each request goes through a collector, the stream and a processor:
    # fewer examples keep its time near the embedded modes'.
    @settings(
        max_examples=60 if rig is None else 20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ops=st.lists(op_st, min_size=1, max_size=25))
    def invariants(ops: list[tuple[Any, ...]]) -> None:
        check_invariants(db, conn, rig, ops)

    invariants()


def check_invariants(db: Database, conn: Conn, rig: Rig | None, ops: list[tuple[Any, ...]]) -> None:
    shop = Shop(db, FixedClock(), abandon_after=DELAY, rig=rig, conn=conn)
    sid = shop.store.id
    trackers: list[str | None] = [None] * VISITORS
    counted: dict[str, Decimal] = {}
    sent_events = 0
    try:
        for op in ops:
            kind = op[0]
            if kind == "snapshot":
                _, v, cid, spec = op
                out = shop.send([], tracker=trackers[v], cart=cart(cid, *_lines(spec)))
            elif kind == "purchase":
                _, v, pid, cid, spec, other_total = op
                lines = _lines(spec)
                ev = purchase(pid, *lines, cart_id=cid, total=1.5 if other_total else None)
                out = shop.send([ev], tracker=trackers[v])
                status = out["results"][0]["status"]
                if pid not in counted:
                    assert status == "accepted"
                    counted[pid] = Decimal(str(ev["purchase"]["totalPrice"]))
                else:
                    assert status in ("duplicate", "conflict")
                sent_events += 1
            elif kind == "login":
                _, v, email = op
                out = shop.send([{"type": "login"}], tracker=trackers[v], email=email)
                sent_events += 1
            elif kind == "page":
                out = shop.send([{"type": "page-visit"}], tracker=trackers[op[1]])
                sent_events += 1
            elif kind == "wait":
                shop.clock.advance(op[1])
                continue
            else:
                shop.abandon()
                continue
            trackers[op[1]] = out["trackerId"]

        shop.clock.advance(DELAY + 1)
        shop.abandon()

        # every active cart untouched past its delay is abandoned
        assert (
            shop.one("SELECT COUNT(*) FROM carts WHERE store_id = ? AND state = 'active'", (sid,))
            == 0
        )
        # ... exactly once per stay in `active`, and never once purchased
        for (cart_row,) in shop.q("SELECT id FROM carts WHERE store_id = ?", (sid,)):
            steps = [
                tuple(r)
                for r in shop.q(
                    "SELECT from_state, to_state FROM cart_transitions WHERE cart_row = ? ORDER BY id",
                    (cart_row,),
                )
            ]
            closed = False
            abandoned_in_stay = 0
            for frm, to in steps:
                if to in ("purchased", "recovered"):
                    closed = True
                if to == "abandoned":
                    assert not closed, f"cart {cart_row} abandoned after purchase: {steps}"
                    assert frm == "active"
                    abandoned_in_stay += 1
                    assert abandoned_in_stay == 1, steps
                if to == "active":
                    abandoned_in_stay = 0
        # revenue equals the sum of distinct purchases
        total = shop.one(
            "SELECT COALESCE(SUM(total_price), 0) FROM purchases WHERE store_id = ?", (sid,)
        )
        assert int(total) == sum(int(a * 1_000_000) for a in counted.values())
        assert shop.one("SELECT COUNT(*) FROM purchases WHERE store_id = ?", (sid,)) == len(counted)
        # merges lose no event: every event is stored and belongs to a live contact
        assert shop.one("SELECT COUNT(*) FROM events WHERE store_id = ?", (sid,)) == sent_events
        orphans = shop.one(
            "SELECT COUNT(*) FROM events e LEFT JOIN contacts c ON c.id = e.contact_id "
            "WHERE e.store_id = ? AND (c.id IS NULL OR c.merged_into IS NOT NULL)",
            (sid,),
        )
        assert orphans == 0
        # contact aggregates agree with the ledger
        for cid, n, amount in shop.q(
            "SELECT id, total_purchases, total_amount FROM contacts WHERE store_id = ?", (sid,)
        ):
            row = shop.q(
                "SELECT COUNT(*), COALESCE(SUM(total_price), 0) FROM purchases WHERE contact_id = ?",
                (cid,),
            )[0]
            assert (int(n), Decimal(str(amount)) * 1_000_000) == (int(row[0]), Decimal(int(row[1])))
    finally:
        shop.close()
