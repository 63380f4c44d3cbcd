"""Reports on both backends: DST-correct local days, 15-minute zones, exact money, splits,
carts and recovery, top products, data quality, and rollups that never change a figure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shopevents.clock import from_micros, to_micros
from shopevents.domain import carts as cart_domain
from shopevents.ingest import intake
from shopevents.jsoncodec import dumpb
from shopevents.reports import (
    cart_report,
    fact_reads,
    overview_report,
    product_report,
    quality_report,
    revenue_report,
    rollups,
)
from shopevents.reports.timebuckets import Range
from shopevents.schema.verdicts import CheckContext, read_envelope
from shopevents.storage import stores
from shopevents.storage.database import Database
from shopevents.storage.stores import StoreRecord
from tests.dashboard.support import cart, product, purchase_event

MUG = product("mug", "Mug", "9.95")
LAMP = product("lamp", "Lamp", "24.50")
PEN = product("pen", "Pen", "0.10")


def us(text: str) -> int:
    return to_micros(datetime.fromisoformat(text.replace("Z", "+00:00")))


def make(db: Database, tz: str = "Europe/Madrid", currency: str = "EUR") -> StoreRecord:
    conn = db.connect()
    try:
        with conn.transaction():
            return stores.create_store(
                conn, "Reports", now=us("2026-01-01T00:00:00Z"), timezone=tz, currency=currency
            )
    finally:
        conn.close()


def ingest(db: Database, store: StoreRecord, body: dict[str, Any], at: int) -> dict[str, Any]:
    raw = dumpb(body)
    prepared = intake.prepare(
        store,
        read_envelope(raw),
        raw,
        ctx=CheckContext(now=from_micros(at), currency=store.currency, domains=store.domains),
        max_event_bytes=32 * 1024,
    )
    conn = db.connect()
    try:
        with conn.transaction():
            return intake.apply(conn, prepared, at)
    finally:
        conn.close()


def buy(db: Database, store: StoreRecord, pid: str, when: str, lines: Any, **kw: Any) -> None:
    out = ingest(db, store, {"events": [purchase_event(pid, lines, date=when, **kw)]}, us(when))
    assert out["results"][0]["status"] == "accepted", out


def read(db: Database, fn: Any) -> Any:
    conn = db.connect()
    try:
        return fn(conn)
    finally:
        conn.close()


def per_day(report: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    return {b["start"]: (b["orders"], b["revenue"]) for b in report["buckets"] if b["orders"]}


def test_revenue_days_follow_the_store_zone_across_both_dst_changes(db: Database) -> None:
    store = make(db, "Europe/Madrid")
    # Spring forward (29 March 2026, 02:00 -> 03:00) and fall back (25 October 2026).
    buy(db, store, "a", "2026-03-28T22:59:00Z", [(PEN, 1)])  # 23:59 CET, 28th
    buy(db, store, "b", "2026-03-28T23:30:00Z", [(PEN, 2)])  # 00:30 CET, 29th
    buy(db, store, "c", "2026-03-29T21:59:00Z", [(PEN, 3)])  # 23:59 CEST, 29th
    buy(db, store, "d", "2026-03-29T22:30:00Z", [(PEN, 4)])  # 00:30 CEST, 30th (not 23:30)
    buy(db, store, "e", "2026-10-24T22:30:00Z", [(MUG, 1)])  # 00:30 CEST, 25th
    buy(db, store, "f", "2026-10-25T22:59:00Z", [(MUG, 1)])  # 23:59 CET, 25th
    buy(db, store, "g", "2026-10-25T23:30:00Z", [(MUG, 1)])  # 00:30 CET, 26th
    spring = read(
        db,
        lambda c: revenue_report.revenue(
            c, store, Range(store.timezone, date(2026, 3, 27), date(2026, 3, 31))
        ),
    )
    assert per_day(spring) == {
        "2026-03-28": (1, Decimal("0.1")),
        "2026-03-29": (2, Decimal("0.5")),
        "2026-03-30": (1, Decimal("0.4")),
    }
    autumn = read(
        db,
        lambda c: revenue_report.revenue(
            c, store, Range(store.timezone, date(2026, 10, 24), date(2026, 10, 26))
        ),
    )
    assert per_day(autumn) == {
        "2026-10-25": (2, Decimal("19.9")),
        "2026-10-26": (1, Decimal("9.95")),
    }
    # The range itself starts at local midnight: the purchase at 23:59 on the 28th is out.
    only = read(
        db,
        lambda c: revenue_report.revenue(
            c, store, Range(store.timezone, date(2026, 3, 29), date(2026, 3, 29))
        ),
    )
    assert only["totals"]["orders"] == 2 and only["totals"]["revenue"] == Decimal("0.5")
    weeks = read(
        db,
        lambda c: revenue_report.revenue(
            c, store, Range(store.timezone, date(2026, 3, 23), date(2026, 4, 5), "week")
        ),
    )
    assert [(b["start"], b["orders"]) for b in weeks["buckets"]] == [
        ("2026-03-23", 3),
        ("2026-03-30", 1),
    ]
    months = read(
        db,
        lambda c: revenue_report.revenue(
            c, store, Range(store.timezone, date(2026, 3, 1), date(2026, 10, 31), "month")
        ),
    )
    got = {b["start"]: b["orders"] for b in months["buckets"]}
    assert got["2026-03-01"] == 4 and got["2026-10-01"] == 3 and len(got) == 8


def test_a_half_hour_zone_splits_days_at_its_own_midnight(db: Database) -> None:
    store = make(db, "Asia/Kolkata")  # +05:30: local midnight is 18:30 UTC
    buy(db, store, "k1", "2026-05-01T18:29:00Z", [(LAMP, 1)])  # 23:59 on the 1st
    buy(db, store, "k2", "2026-05-01T18:30:00Z", [(LAMP, 2)])  # 00:00 on the 2nd
    rep = read(
        db,
        lambda c: revenue_report.revenue(
            c, store, Range(store.timezone, date(2026, 5, 1), date(2026, 5, 2))
        ),
    )
    assert per_day(rep) == {"2026-05-01": (1, Decimal("24.5")), "2026-05-02": (1, Decimal("49"))}


def test_splits_unspecified_sources_and_other_currencies(db: Database) -> None:
    store = make(db, "UTC")
    day = "2026-02-10T10:00:00Z"
    buy(
        db,
        store,
        "w1",
        day,
        [(MUG, 1)],
        source_type="digital-store",
        source_name="Web",
        payment="card",
    )
    buy(
        db,
        store,
        "w2",
        day,
        [(MUG, 2)],
        source_type="digital-store",
        source_name="App",
        payment="paypal",
    )
    buy(
        db,
        store,
        "m1",
        day,
        [(LAMP, 1)],
        source_type="marketplace",
        source_name="Amazon",
        payment="card",
    )
    buy(db, store, "n1", day, [(PEN, 1)])
    buy(db, store, "u1", day, [(LAMP, 1)], currency="USD")
    rng = Range("UTC", date(2026, 2, 10), date(2026, 2, 10))
    rep = read(db, lambda c: revenue_report.revenue(c, store, rng, "source_type"))
    assert rep["totals"]["orders"] == 4
    assert rep["totals"]["revenue"] == Decimal("9.95") * 3 + Decimal("24.5") + Decimal("0.1")
    assert [(g["key"], g["orders"]) for g in rep["byGroup"]] == [
        ("digital-store", 2),
        ("marketplace", 1),
        ("unspecified", 1),
    ]
    assert rep["buckets"][0]["groups"]["unspecified"]["revenue"] == Decimal("0.1")
    assert {s["key"] for s in rep["splits"]["payment_method"]} == {"card", "paypal", "unspecified"}
    assert {s["key"] for s in rep["splits"]["source_name"]} == {
        "Web",
        "App",
        "Amazon",
        "unspecified",
    }
    assert [
        {k: o[k] for k in ("currency", "orders", "revenue", "netRevenue")}
        for o in rep["otherCurrencies"]
    ] == [
        {"currency": "USD", "orders": 1, "revenue": Decimal("24.5"), "netRevenue": Decimal("24.5")}
    ]
    usd = read(db, lambda c: revenue_report.revenue(c, store, rng, None, "USD"))
    assert usd["totals"]["orders"] == 1 and usd["currency"] == "USD"
    with pytest.raises(ValueError):
        revenue_report.revenue(None, store, rng, "nope")  # type: ignore[arg-type]
    top = read(db, lambda c: product_report.products(c, store, rng))
    assert [(p["productId"], p["units"], p["revenue"]) for p in top["byRevenue"]] == [
        ("mug", 3, Decimal("29.85")),
        ("lamp", 1, Decimal("24.5")),
        ("pen", 1, Decimal("0.1")),
    ]
    assert top["byUnits"][0]["productId"] == "mug"


def test_carts_created_abandoned_purchased_recovered(db: Database) -> None:
    store = make(db, "UTC")
    t0 = us("2026-06-01T10:00:00Z")
    for n in (1, 2, 3):
        ingest(
            db,
            store,
            {"events": [], "entityInfo": {"trackerId": f"t{n}"}, "cart": cart(f"c{n}", [(MUG, n)])},
            t0,
        )
    # t3 buys before the delay; t1 and t2 are abandoned; t1 comes back and buys: recovered.
    ingest(
        db,
        store,
        {
            "events": [purchase_event("p3", [(MUG, 3)], cart_id="c3")],
            "entityInfo": {"trackerId": "t3"},
        },
        t0 + 60_000_000,
    )
    conn = db.connect()
    try:
        with conn.transaction():
            assert cart_domain.mark_due_abandoned(conn, t0 + 31 * 60_000_000) == 2
    finally:
        conn.close()
    ingest(
        db,
        store,
        {
            "events": [purchase_event("p1", [(MUG, 1)], cart_id="c1")],
            "entityInfo": {"trackerId": "t1"},
        },
        t0 + 3600_000_000,
    )
    rng = Range("UTC", date(2026, 6, 1), date(2026, 6, 1))
    rep = read(db, lambda c: cart_report.carts(c, store, rng))
    t = rep["totals"]
    assert (t["created"], t["abandoned"], t["purchased"], t["recovered"]) == (3, 2, 1, 1)
    assert t["recoveryRate"] == Decimal("0.5")
    assert t["recoveredRevenue"] == Decimal("9.95")
    assert rep["buckets"] == [
        {"start": "2026-06-01", "created": 3, "abandoned": 2, "purchased": 1, "recovered": 1}
    ]


def test_data_quality_outcomes_warnings_and_rejections_per_hour(db: Database) -> None:
    store = make(db, "Europe/Madrid")
    at = us("2026-03-29T00:30:00Z")  # 01:30 CET, the night clocks go forward
    ingest(db, store, {"events": [{"type": "page-visit"}, {"type": "nope"}]}, at)
    p = {**MUG, "unitPrice": "9.95"}  # a number as text: kept with a warning
    ingest(db, store, {"events": [{"type": "product-visited", "product": p}]}, at + 3600_000_000)
    ingest(
        db,
        store,
        {"events": [purchase_event("q", [(MUG, 1)], date="2026-03-29T02:00:00Z")]},
        at + 3600_000_000,
    )
    ingest(
        db,
        store,
        {"events": [purchase_event("q", [(MUG, 1)], date="2026-03-29T02:00:00Z")]},
        at + 3600_000_000,
    )
    rng = Range(store.timezone, date(2026, 3, 29), date(2026, 3, 29), "hour")
    rep = read(db, lambda c: quality_report.data_quality(c, store, rng))
    assert len(rep["buckets"]) == 23  # a 23-hour local day
    assert rep["totals"]["accepted"] == 3 and rep["totals"]["duplicate"] == 1
    assert rep["totals"]["rejected"] == 1 and rep["totals"]["received"] == 5
    assert rep["warningCodes"] == [{"code": "coerced_number", "count": 1}]
    assert rep["rejectionCodes"] == [{"code": "unknown_type", "count": 1}]
    busy = {
        b["start"]: (b["accepted"], b["rejected"])
        for b in rep["buckets"]
        if b["accepted"] or b["rejected"]
    }
    assert busy == {"2026-03-29 01:00 +01:00": (1, 1), "2026-03-29 03:00 +02:00": (2, 0)}
    daily = read(
        db,
        lambda c: quality_report.data_quality(
            c, store, Range(store.timezone, date(2026, 3, 29), date(2026, 3, 29))
        ),
    )
    assert daily["buckets"][0]["accepted"] == 3 and daily["buckets"][0]["warnings"] == {
        "coerced_number": 1
    }
    autumn = Range(store.timezone, date(2026, 10, 25), date(2026, 10, 25), "hour")
    labels = [
        b["start"]
        for b in read(db, lambda c: quality_report.data_quality(c, store, autumn))["buckets"]
    ]
    assert (
        len(labels) == 25
        and "2026-10-25 02:00 +02:00" in labels
        and "2026-10-25 02:00 +01:00" in labels
    )


def _seed_mixed(db: Database, store: StoreRecord, start: datetime, n: int, prefix: str) -> None:
    for i in range(n):
        at = start + timedelta(hours=7 * i)
        when = at.isoformat().replace("+00:00", "Z")
        lines = [(MUG, 1 + i % 3)] + ([(LAMP, 1)] if i % 2 else [])
        body: dict[str, Any] = {
            "events": [
                purchase_event(
                    f"{prefix}{i}",
                    lines,
                    date=when,
                    source_type=("digital-store" if i % 3 else None),
                    payment=("card" if i % 2 else "paypal"),
                    cart_id=f"{prefix}c{i}",
                ),
                {"type": "page-visit"},
            ],
            "entityInfo": {"trackerId": f"{prefix}t{i}"},
        }
        if i % 4 == 0:
            body["events"].append({"type": "mystery"})
        ingest(
            db,
            store,
            {
                "events": [],
                "entityInfo": {"trackerId": f"{prefix}t{i}"},
                "cart": cart(f"{prefix}c{i}", lines),
            },
            to_micros(at),
        )
        ingest(db, store, body, to_micros(at) + 1_000_000)


def _everything(db: Database, store: StoreRecord) -> dict[str, Any]:
    rng = Range(store.timezone, date(2026, 1, 1), date(2026, 3, 31), "week")
    return read(db, lambda c: overview_report.overview_for(c, store, rng))


def test_rollups_never_change_a_figure(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollups, "CHUNK_IDS", 7)  # many small catch-up steps
    store = make(db, "America/New_York")
    _seed_mixed(db, store, datetime(2026, 1, 5, 3, tzinfo=UTC), 24, "a")
    scratch = _everything(db, store)
    assert scratch["revenue"]["totals"]["orders"] == 24
    later = us("2026-12-01T00:00:00Z")
    steps = read(db, lambda c: rollups.catch_up(c, store.id, store.timezone, later))
    assert steps > 4
    assert read(db, lambda c: fact_reads.watermarks(c, store.id, store.timezone))["sales"] > 0
    assert _everything(db, store) == scratch
    # More rows after the watermark: rollups + tail still equal a sum from scratch.
    _seed_mixed(db, store, datetime(2026, 2, 20, 1, tzinfo=UTC), 10, "b")
    mixed = _everything(db, store)
    assert mixed["revenue"]["totals"]["orders"] == 34
    read(db, lambda c: rollups.catch_up(c, store.id, store.timezone, later))
    assert _everything(db, store) == mixed
    conn = db.connect()
    try:
        with conn.transaction():
            rollups.drop(conn, store.id)
    finally:
        conn.close()
    assert _everything(db, store) == mixed
    # A rollup built in another time zone is not used, and is rebuilt in the new one.
    read(db, lambda c: rollups.catch_up(c, store.id, store.timezone, later))
    moved = StoreRecord(
        **{**{f: getattr(store, f) for f in store.__struct_fields__}, "timezone": "Asia/Tokyo"}
    )
    tokyo = read(
        db,
        lambda c: overview_report.overview_for(
            c, moved, Range("Asia/Tokyo", date(2026, 1, 1), date(2026, 3, 31), "week")
        ),
    )
    read(db, lambda c: rollups.catch_up(c, store.id, "Asia/Tokyo", later))
    assert (
        read(
            db,
            lambda c: overview_report.overview_for(
                c, moved, Range("Asia/Tokyo", date(2026, 1, 1), date(2026, 3, 31), "week")
            ),
        )
        == tokyo
    )
    assert tokyo["revenue"]["totals"] == mixed["revenue"]["totals"]


def test_overview_entry_point_for_the_bench(db: Database) -> None:
    store = make(db, "UTC")
    buy(db, store, "x1", "2026-02-01T12:00:00Z", [(MUG, 2)])
    out = read(
        db,
        lambda c: overview_report.overview(
            c, store.id, us("2026-01-15T00:00:00Z"), us("2026-02-15T00:00:00Z")
        ),
    )
    assert out["revenue"]["totals"]["orders"] == 1
    assert out["revenue"]["from"] == "2026-01-15" and out["revenue"]["to"] == "2026-02-14"
    assert set(out) == {"revenue", "carts", "products", "quality"}
