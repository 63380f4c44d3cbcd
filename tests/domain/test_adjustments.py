"""A purchase's lifecycle on both backends: refunds by amount and by lines, cancellations,
idempotency by adjustment id, pending adjustments applied when their purchase arrives (any
order of arrival), and net revenue in reports equal to purchases minus distinct adjustments."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopevents.clock import FixedClock, to_micros
from shopevents.domain import adjustments
from shopevents.domain.adjustments import Adjustment, Applied, Line, Refused
from shopevents.reports import product_report, revenue_report, rollups
from shopevents.reports.timebuckets import local_today, make_range
from shopevents.storage import stores
from shopevents.storage.database import Conn, Database
from tests.natscluster import Rig
from tests.shop import Shop, line, purchase

pytestmark = pytest.mark.cluster

# --- the plain rules ----------------------------------------------------------------------


def test_rules_left_units_and_refusals() -> None:
    bought = [Line("a", 3, 30_000_000), Line("b", 1, 5_000_000)]
    r1 = Adjustment("p", "r1", "refund", 0, lines=(("a", 1),))
    amount, lines = adjustments.settle(35_000_000, "EUR", bought, [], r1)
    assert amount == 10_000_000 and lines == [
        {"productId": "a", "quantity": 1, "amount": 10_000_000}
    ]
    applied = [Applied("refund", amount, (("a", 1),))]
    assert adjustments.units_left(bought, applied) == {"a": 2, "b": 1}
    with pytest.raises(Refused, match="only 2 of 3 left"):
        adjustments.settle(
            35_000_000,
            "EUR",
            bought,
            applied,
            Adjustment("p", "r2", "refund", 0, lines=(("a", 3),)),
        )
    with pytest.raises(Refused, match="more than is left of the purchase: 25 EUR"):
        adjustments.settle(
            35_000_000,
            "EUR",
            bought,
            applied,
            Adjustment("p", "r2", "refund", 0, amount=25_000_001),
        )
    cancel = Adjustment("p", "cancellation", "cancellation", 0)
    assert adjustments.settle(35_000_000, "EUR", bought, applied, cancel) == (25_000_000, None)
    with pytest.raises(Refused, match="cancelled"):
        adjustments.settle(
            35_000_000,
            "EUR",
            bought,
            [*applied, Applied("cancellation", 25_000_000)],
            Adjustment("p", "r3", "refund", 0, amount=1),
        )


def test_a_line_refunded_in_parts_sums_to_its_price() -> None:
    bought = [Line("a", 3, 10_000_000)]  # 3 units for 10.00: 3.333333... each
    applied: list[Applied] = []
    for i in range(3):
        amount, _ = adjustments.settle(
            10_000_000,
            "EUR",
            bought,
            applied,
            Adjustment("p", f"r{i}", "refund", 0, lines=(("a", 1),)),
        )
        applied.append(Applied("refund", amount, (("a", 1),)))
    assert [a.amount for a in applied] == [3_333_333, 3_333_334, 3_333_333]
    assert sum(a.amount for a in applied) == 10_000_000


# --- the property: any interleaving, both backends ----------------------------------------------

_line = st.tuples(st.sampled_from("abc"), st.integers(1, 3), st.integers(1, 5000))


@st.composite
def scenario(draw: Any) -> dict[str, Any]:
    purchases = []
    ops: list[tuple[str, Any]] = []
    for n in range(draw(st.integers(1, 3))):
        pid = f"o{n}"
        lines = {}
        for prod, qty, cents in draw(st.lists(_line, min_size=1, max_size=3)):
            lines.setdefault(prod, (qty, cents))
        purchases.append((pid, lines))
        ops.append(("purchase", pid))
        if draw(st.booleans()):
            ops.append(("purchase", pid))  # a duplicate
        total = sum(q * c for q, c in lines.values()) * 10_000
        k = 0
        for prod, (qty, _cents) in lines.items():
            units = draw(st.integers(0, qty))
            while units:
                part = draw(st.integers(1, units))
                ops.append(("lines", (pid, f"r{k}", prod, part)))
                units -= part
                k += 1
        refunded_lines_value = 0  # added below, from the ops
        for op in ops:
            if op[0] == "lines" and op[1][0] == pid:
                _, _, prod, part = op[1]
                refunded_lines_value += part * lines[prod][1] * 10_000
        room = total - refunded_lines_value
        for _ in range(draw(st.integers(0, 2))):
            if room <= 0:
                break
            amount = draw(st.integers(1, room))
            room -= amount
            ops.append(("amount", (pid, f"r{k}", amount)))
            k += 1
        if draw(st.booleans()):
            ops.append(("cancel", pid))
    # duplicates and conflicts of adjustments
    adj = [op for op in ops if op[0] in ("lines", "amount")]
    if adj:
        ops.append(draw(st.sampled_from(adj)))
        ops.append(("conflict", draw(st.sampled_from(adj))[1]))
    order = draw(st.permutations(ops))
    # a conflict comes after the adjustment it conflicts with (else it would be the first)
    order = [o for o in order if o[0] != "conflict"] + [o for o in order if o[0] == "conflict"]
    return {"purchases": purchases, "ops": order}


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sc=scenario())
def test_net_revenue_for_any_interleaving(
    db: Database, conn: Conn, rig: Rig | None, sc: dict[str, Any]
) -> None:
    clock = FixedClock()
    shop = Shop(db, clock, name=f"prop-{uuid.uuid4().hex[:6]}", rig=rig, conn=conn)
    try:
        by_id = dict(sc["purchases"])
        for kind, args in sc["ops"]:
            clock.advance(timedelta(hours=7))
            now = to_micros(clock.now())
            if kind == "purchase":
                lines = [line(p, q, f"{c / 100:.2f}") for p, (q, c) in by_id[args].items()]
                shop.send([purchase(args, *lines)])
                continue
            if kind == "lines":
                pid, rid, prod, part = args
                a = Adjustment(pid, rid, "refund", now, lines=((prod, part),))
            elif kind == "amount":
                pid, rid, amount = args
                a = Adjustment(pid, rid, "refund", now, amount=amount)
            elif kind == "conflict":
                pid, rid = args[0], args[1]
                a = Adjustment(pid, rid, "refund", now, amount=123_456_789_000)
            else:
                a = Adjustment(args, "cancellation", "cancellation", now)
            with shop.conn.transaction():
                try:
                    status, _ = adjustments.record(
                        shop.conn, shop.store.id, a, now=now, channel="test"
                    )
                except Refused:
                    status = "refused"
            if kind == "conflict":
                assert status in ("conflict", "refused")
        sid = shop.store.id
        totals = {
            r[0]: (int(r[1]), int(r[2]))
            for r in shop.q(
                "SELECT purchase_id, id, total_price FROM purchases WHERE store_id = ?", (sid,)
            )
        }
        assert set(totals) == set(by_id)
        assert shop.one("SELECT COUNT(*) FROM pending_adjustments WHERE store_id = ?", (sid,)) == 0
        gross = net = 0
        for pid, (row, total) in totals.items():
            taken = sum(
                int(r[0])
                for r in shop.q(
                    "SELECT amount FROM purchase_adjustments WHERE purchase_row = ?", (row,)
                )
            )
            cancelled = shop.q(
                "SELECT 1 FROM purchase_adjustments WHERE purchase_row = ? AND kind = 'cancellation'",
                (row,),
            )
            assert total - taken >= 0
            # order of arrival does not matter: the figure follows from the distinct operations
            expected = 0 if cancelled else total - _asked(sc["ops"], pid, by_id[pid])
            assert total - taken == expected
            gross += total
            net += total - taken
        today = local_today("UTC", clock.now())
        rng = make_range("UTC", today, "2025-12-01", today.isoformat(), "week")
        store = stores.get_store(shop.conn, sid)
        assert store is not None
        rep = revenue_report.revenue(shop.conn, store, rng)
        assert rep["totals"]["grossRevenue"] == Decimal(gross) / 1_000_000
        assert rep["totals"]["netRevenue"] == Decimal(net) / 1_000_000
        assert sum(b["netRevenue"] for b in rep["buckets"]) == rep["totals"]["netRevenue"]
        assert all(b["netRevenue"] == b["grossRevenue"] - b["refunded"] for b in rep["buckets"])
        # the rollups change no figure
        rollups.catch_up(shop.conn, sid, "UTC", to_micros(clock.now()) + 86_400_000_000)
        assert revenue_report.revenue(shop.conn, store, rng) == rep
    finally:
        shop.close()


def _asked(ops: list[tuple[str, Any]], pid: str, lines: dict[str, tuple[int, int]]) -> int:
    """The value of the distinct refunds asked for a purchase (all valid together)."""
    seen: dict[str, int] = {}
    for kind, args in ops:
        if kind == "lines" and args[0] == pid:
            seen[args[1]] = args[3] * lines[args[2]][1] * 10_000
        elif kind == "amount" and args[0] == pid:
            seen[args[1]] = args[2]
    return sum(seen.values())


# --- REST ---------------------------------------------------------------------------------------


def test_rest_refunds_and_cancellation(http: Any, db: Database) -> None:
    from tests.conftest import make_store

    store = make_store(db)
    h = store.auth
    base = "/api/purchases/purchase-id/o%2F1"
    # a refund before its purchase is kept, and applied when the purchase arrives
    r = http.post(
        f"{base}/refunds",
        json={"refundId": "r1", "refundedAt": "2026-01-02T10:00:00Z", "amount": 5},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["status"] == "accepted" and r.json()["pending"]
    body = {
        "purchaseId": "o/1",
        "totalQuantity": 3,
        "totalPrice": 60,
        "products": [
            {
                "productId": "a",
                "name": "A",
                "productDetailUrl": "https://s.example/a",
                "unitPrice": 10,
                "quantity": 2,
                "price": 20,
            },
            {
                "productId": "b",
                "name": "B",
                "productDetailUrl": "https://s.example/b",
                "unitPrice": 40,
                "quantity": 1,
                "price": 40,
            },
        ],
    }
    assert http.post("/api/purchases/", json=body, headers=h).status_code == 201
    p = http.get(base, headers=h).json()
    assert p["state"] == "partially_refunded" and p["netTotal"] == 55 and p["refunded"] == 5
    r = http.post(
        f"{base}/refunds",
        json={
            "refundId": "r2",
            "refundedAt": "2026-01-03T10:00:00Z",
            "lines": [{"productId": "a", "quantity": 1}],
            "reason": "damaged",
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["amount"] == 10 and r.json()["left"] == 45
    # the same again: duplicate; another content under the same id: conflict
    r2 = http.post(
        f"{base}/refunds",
        json={
            "refundId": "r2",
            "refundedAt": "2026-01-03T10:00:00Z",
            "lines": [{"productId": "a", "quantity": 1}],
        },
        headers=h,
    )
    assert r2.status_code == 200 and r2.json()["status"] == "duplicate"
    r3 = http.post(f"{base}/refunds", json={"refundId": "r2", "amount": 1}, headers=h)
    assert r3.status_code == 409 and r3.json()["code"] == "adjustment_conflict"
    # more than is left: refused, saying what is left
    r4 = http.post(
        f"{base}/refunds",
        json={"refundId": "r3", "lines": [{"productId": "a", "quantity": 2}]},
        headers=h,
    )
    assert r4.status_code == 409 and r4.json()["code"] == "adjustment_refused"
    assert "only 1 of 2 left" in r4.json()["message"]
    r5 = http.post(f"{base}/refunds", json={"refundId": "r3", "amount": 45.01}, headers=h)
    assert r5.status_code == 409 and "45 EUR" in r5.json()["message"]
    r6 = http.post(
        f"{base}/cancellation",
        json={"cancelledAt": "2026-01-04T10:00:00Z", "reason": "customer"},
        headers=h,
    )
    assert r6.status_code == 201 and r6.json()["amount"] == 45 and r6.json()["left"] == 0
    p = http.get(base, headers=h).json()
    assert p["state"] == "cancelled" and p["netTotal"] == 0
    assert [a["kind"] for a in p["adjustments"]] == ["refund", "refund", "cancellation"]
    again = http.post(f"{base}/cancellation", json={"reason": "customer"}, headers=h)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    bad = http.post(f"{base}/refunds", json={"refundId": "r9", "amount": -1}, headers=h)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"


def test_top_products_are_net_of_returns(db: Database, rig: Rig | None) -> None:
    clock = FixedClock()
    shop = Shop(db, clock, rig=rig)
    try:
        shop.send([purchase("o1", line("a", 3, "10"), line("b", 1, "25"))])
        now = to_micros(clock.now())
        with shop.conn.transaction():
            adjustments.record(
                shop.conn,
                shop.store.id,
                Adjustment("o1", "r1", "refund", now, lines=(("b", 1),)),
                now=now,
                channel="test",
            )
        store = stores.get_store(shop.conn, shop.store.id)
        assert store is not None
        today = local_today("UTC", clock.now())
        rng = make_range("UTC", today, today.isoformat(), today.isoformat(), "day")
        rep = product_report.products(shop.conn, store, rng)
        top = rep["byRevenue"]
        assert [p["productId"] for p in top] == ["a", "b"]
        assert top[1]["revenue"] == 25 and top[1]["returnedUnits"] == 1
        assert top[1]["netRevenue"] == 0 and top[1]["netUnits"] == 0
        assert top[0]["netRevenue"] == 30 and top[0]["netUnits"] == 3
        # the contact-free purchase's lifecycle is on the purchase itself
        rev = revenue_report.revenue(shop.conn, store, rng)
        assert rev["totals"]["grossRevenue"] == 55 and rev["totals"]["netRevenue"] == 30
    finally:
        shop.close()


def test_the_ingest_extension_event(db: Database, rig: Rig | None) -> None:
    """A back end posting through the ingest endpoint: custom events with the reserved
    eventIds, a refund before its purchase included."""
    clock = FixedClock()
    shop = Shop(db, clock, rig=rig)
    try:
        refund = {
            "type": "custom",
            "eventId": "shopevents:purchase-refund",
            "payload": {"purchaseId": "o1", "refundId": "r1", "amount": 5, "reason": "late"},
        }
        res = shop.send([refund], email="ann@example.com")
        assert res["results"][0]["status"] == "accepted"
        assert res["results"][0]["adjustment"] == {"status": "accepted", "pending": True}
        res = shop.send([purchase("o1", line("a", 2, "10"))], email="ann@example.com")
        again = shop.send([refund], email="ann@example.com")
        assert again["results"][0]["adjustment"] == {"status": "duplicate"}
        cancel = {
            "type": "custom",
            "eventId": "shopevents:purchase-cancellation",
            # a NUL (U+0000) is removed from the reason, as from every ingested text
            "payload": {"purchaseId": "o1", "reason": "custo\x00mer"},
        }
        res = shop.send([cancel], email="ann@example.com")
        adj = res["results"][0]["adjustment"]
        assert adj["status"] == "accepted" and adj["amount"] == 15 and adj["left"] == 0
        too_much = {**refund, "payload": {"purchaseId": "o1", "refundId": "r2", "amount": 1}}
        res = shop.send([too_much], email="ann@example.com")
        assert res["results"][0]["adjustment"]["status"] == "refused"
        bad = {**refund, "payload": {"purchaseId": "o1", "refundId": "r3"}}
        assert shop.send([bad])["results"][0]["adjustment"]["status"] == "invalid"
        kinds = [a[1] for a in shop.activities()]
        assert "purchase-refunded" in kinds and "purchase-cancelled" in kinds
    finally:
        shop.close()


def test_contact_aggregates_give_gross_and_net(db: Database, rig: Rig | None) -> None:
    from shopevents.storage import reads

    clock = FixedClock()
    shop = Shop(db, clock, rig=rig)
    try:
        shop.send([purchase("o1", line("a", 2, "10"))], email="bo@example.com")
        shop.send([purchase("o2", line("b", 1, "30"))], email="bo@example.com")
        now = to_micros(clock.now())
        with shop.conn.transaction():
            for a in (
                Adjustment("o1", "r1", "refund", now, amount=5_000_000),
                Adjustment("o2", "cancellation", "cancellation", now),
            ):
                adjustments.record(shop.conn, shop.store.id, a, now=now, channel="test")
        c = reads.contact_by_email(shop.conn, shop.store.id, "bo@example.com")
        assert c is not None
        assert c["_totalPurchases"] == 2 and c["_totalPurchasesAmount"] == 50  # gross
        assert c["_refundedPurchasesAmount"] == 35
        assert c["_netPurchases"] == 1 and c["_netPurchasesAmount"] == 15
        assert c["_averageNetPurchasesAmount"] == 15
    finally:
        shop.close()


def test_the_lifecycle_example_of_the_reports_doc(http: Any, db: Database) -> None:
    """docs/reports.md's daily table: the calls it describes, through REST, give its figures."""
    import re
    from pathlib import Path

    from tests.conftest import make_store

    store = make_store(db, timezone="UTC")
    h = store.auth
    body = {
        "purchaseId": "doc-1",
        "purchaseDate": "2026-04-01T10:00:00Z",
        "totalQuantity": 3,
        "totalPrice": 60,
        "products": [
            {"productId": p, "name": p, "productDetailUrl": f"https://s.example/{p}",
             "unitPrice": u, "quantity": q, "price": u * q}
            for p, u, q in (("a", 10, 2), ("b", 40, 1))
        ],
    }  # fmt: skip
    assert http.post("/api/purchases/", json=body, headers=h).status_code == 201
    base = "/api/purchases/purchase-id/doc-1"
    calls = [
        ("refunds", {"refundId": "r1", "refundedAt": "2026-04-02T10:00:00Z", "amount": 5}),
        (
            "refunds",
            {
                "refundId": "r2",
                "refundedAt": "2026-04-03T10:00:00Z",
                "lines": [{"productId": "a", "quantity": 1}],
            },
        ),
        ("cancellation", {"cancelledAt": "2026-04-04T10:00:00Z"}),
    ]
    for path, payload in calls:
        assert http.post(f"{base}/{path}", json=payload, headers=h).status_code == 201
    report = http.get(
        "/api/reports/revenue?from=2026-04-01&to=2026-04-04&interval=day", headers=h
    ).json()
    text = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text()
    section = text[text.index("### Gross, refunded, net") :]
    rows = re.findall(r"^\| (\d{4}-\d\d-\d\d) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (-?\d+) \|$",
                      section, re.M)  # fmt: skip
    assert len(rows) == 4
    keys = ("orders", "grossRevenue", "refunded", "cancelled", "cancelledOrders", "netRevenue")
    got = {b["start"]: [b[k] for k in keys] for b in report["buckets"]}
    for day, *figures in rows:
        assert got[day] == [int(f) for f in figures], day
    totals = re.search(
        r"^\| \*\*totals\*\* \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (-?\d+) \|$",
        section,
        re.M,
    )
    assert totals is not None
    assert [report["totals"][k] for k in keys] == [int(f) for f in totals.groups()]
    assert report["totals"]["averageOrderValue"] == 0


def test_the_worked_example_of_the_http_api_doc(http: Any, db: Database) -> None:
    """docs/http-api.md's refund sequence, call by call, with the answers it shows."""
    import json
    import re
    from pathlib import Path

    from tests.conftest import make_store

    store = make_store(db)
    h = store.auth
    body = {
        "purchaseId": "o-1",
        "purchaseDate": "2026-04-01T10:00:00Z",
        "totalQuantity": 3,
        "totalPrice": 60,
        "products": [
            {"productId": p, "name": p, "productDetailUrl": f"https://s.example/{p}",
             "unitPrice": u, "quantity": q, "price": u * q}
            for p, u, q in (("tee-1", 10, 2), ("mug-1", 40, 1))
        ],
    }  # fmt: skip
    assert http.post("/api/purchases/", json=body, headers=h).status_code == 201
    text = (Path(__file__).resolve().parents[2] / "docs" / "http-api.md").read_text()
    rows = re.findall(
        r"^\| \d+ \| `POST …/o-1/(refunds|cancellation)` \| `(\{.*\})` \| `(\d+)` `(\w+)`(.*) \|$",
        text,
        re.M,
    )
    assert len(rows) == 8
    for path, payload, status, word, rest in rows:
        r = http.post(f"/api/purchases/purchase-id/o-1/{path}", json=json.loads(payload), headers=h)
        got = r.json()
        assert r.status_code == int(status), (payload, got)
        assert word in (got.get("status"), got.get("code")), (payload, got)
        for key in ("amount", "left"):
            shown = re.search(rf"{key} ([\d.]+)", rest)
            if shown:
                assert Decimal(str(got[key])) == Decimal(shown.group(1)), (payload, key)
        message = re.search(r": `(.+)`$", rest)
        if message:
            assert got["message"] == message.group(1)
    p = http.get("/api/purchases/purchase-id/o-1", headers=h).json()
    assert (p["state"], p["refunded"], p["netTotal"]) == ("cancelled", 60, 0)
    assert len(p["adjustments"]) == 3
    assert '"state": "cancelled"`, `"refunded": 60`, `"netTotal": 0`' in text
