"""Exact money across currencies on both backends: ECB rate files (CSV and XML, daily and
historical) loaded, each purchase converted on its own at its local day's rate, rounded once
(half even) to the reporting currency's minor unit; a missing rate reported, never guessed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shopevents.clock import FixedClock, to_micros
from shopevents.domain import adjustments
from shopevents.reports import rates, revenue_report
from shopevents.reports.timebuckets import Range
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import make_store
from tests.shop import Shop, line, purchase

# the daily file ends each line with ", " as the ECB's does
DAILY_CSV = "Date, USD, JPY, GBP, \n02 January 2026, 1.0345, 161.23, 0.85905, \n"
HIST_CSV = """Date,USD,JPY,BGN,GBP,
2026-01-02,1.0345,161.23,N/A,0.85905,
2025-12-31,1.0400,160.00,N/A,0.86000,
"""
HIST_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube>
    <Cube time="2026-01-02"><Cube currency="USD" rate="1.0345"/><Cube currency="JPY" rate="161.23"/><Cube currency="GBP" rate="0.85905"/></Cube>
    <Cube time="2025-12-31"><Cube currency="USD" rate="1.0400"/></Cube>
  </Cube>
</gesmes:Envelope>
"""


def test_the_ecb_formats_read_alike() -> None:
    daily = rates.parse(DAILY_CSV)
    assert daily == [
        (date(2026, 1, 2), "USD", Decimal("1.0345")),
        (date(2026, 1, 2), "JPY", Decimal("161.23")),
        (date(2026, 1, 2), "GBP", Decimal("0.85905")),
    ]
    hist = rates.parse(HIST_CSV.encode())
    assert (date(2025, 12, 31), "USD", Decimal("1.0400")) in hist
    assert not any(c == "BGN" for _, c, _ in hist)
    xml = rates.parse(HIST_XML.encode())
    assert set(daily) <= set(xml) and (date(2025, 12, 31), "USD", Decimal("1.0400")) in xml
    with pytest.raises(rates.RatesError):
        rates.parse("Date, USD\n02 January 2026, abc\n")


def _at(day: str, hour: int = 12) -> dict[str, Any]:
    return {"purchaseDate": f"{day}T{hour:02d}:00:00Z"}


def _buy(shop: Shop, pid: str, amount: str, currency: str, day: str) -> None:
    ev = purchase(pid, line("x", 1, amount))
    ev["purchase"].update(_at(day), currency=currency)
    res = shop.send([ev])
    assert res["results"][0]["status"] == "accepted", res


def test_usd_gbp_jpy_to_eur_reproduce_hand_computed_cents(db: Database) -> None:
    clock = FixedClock(datetime(2026, 1, 25, tzinfo=datetime.now().astimezone().tzinfo))
    shop = Shop(db, clock)
    try:
        with shop.conn.transaction():
            rates.load(shop.conn, rates.parse(HIST_XML), 0)
        _buy(shop, "u1", "100.00", "USD", "2026-01-05")  # Monday: Friday 2 January's rate
        _buy(shop, "g1", "59.99", "GBP", "2026-01-05")
        _buy(shop, "j1", "12345", "JPY", "2026-01-05")
        _buy(shop, "e1", "10.00", "EUR", "2026-01-05")
        _buy(shop, "u2", "50.00", "USD", "2026-01-20")  # 18 days after the last rate: missing
        store = stores.get_store(shop.conn, shop.store.id)
        assert store is not None
        rng = Range("UTC", date(2026, 1, 1), date(2026, 1, 24), "month")
        rep = revenue_report.revenue(shop.conn, store, rng)
        # 100.00 / 1.0345 = 96.6650…  → 96.67
        # 59.99 / 0.85905 = 69.8329…  → 69.83
        # 12345 / 161.23 = 76.5676…   → 76.57
        expected = Decimal("96.67") + Decimal("69.83") + Decimal("76.57") + Decimal("10.00")
        assert rep["currency"] == "EUR"
        assert rep["totals"]["grossRevenue"] == expected == Decimal("253.07")
        assert rep["totals"]["orders"] == 4
        assert rep["missingRates"] == [{"date": "2026-01-20", "currency": "USD"}]
        assert [
            (o["currency"], o["orders"], o["grossRevenue"]) for o in rep["otherCurrencies"]
        ] == [("USD", 1, Decimal(50))]
        assert sum(b["grossRevenue"] for b in rep["buckets"]) == rep["totals"]["grossRevenue"]
        by = {c["currency"]: c["grossRevenue"] for c in rep["byCurrency"]}
        assert by == {"EUR": 10, "GBP": Decimal("59.99"), "JPY": 12345, "USD": 150}
        # a full refund in USD is converted at its purchase's rate: it nets to exactly zero
        now = to_micros(datetime(2026, 1, 9, tzinfo=clock.now().tzinfo))
        with shop.conn.transaction():
            adjustments.record(
                shop.conn,
                store.id,
                adjustments.Adjustment("u1", "r1", "refund", now, amount=100_000_000),
                now=now,
                channel="test",
            )
        rep = revenue_report.revenue(shop.conn, store, rng)
        assert rep["totals"]["refunded"] == Decimal("96.67")
        assert rep["totals"]["netRevenue"] == Decimal("253.07") - Decimal("96.67")
        # the same in JPY, zero minor units: 10.00 EUR × 161.23 = 1612.3 → 1612
        with shop.conn.transaction():
            stores.update_store(shop.conn, store.id, {"reporting_currency": "JPY"})
        store = stores.get_store(shop.conn, store.id)
        assert store is not None
        rep = revenue_report.revenue(shop.conn, store, rng)
        assert rep["currency"] == "JPY"
        eur = rates.convert(
            10_000_000,
            "EUR",
            "JPY",
            rates.Table(shop.conn, ["JPY"], rng.first_ord, rng.last_ord),
            date(2026, 1, 5).toordinal(),
        )
        assert eur == 1612_000_000
        # 100 USD → JPY: 100 / 1.0345 × 161.23 = 15585.31 → 15585
        table = rates.Table(shop.conn, ["USD", "JPY"], rng.first_ord, rng.last_ord)
        assert (
            rates.convert(100_000_000, "USD", "JPY", table, date(2026, 1, 5).toordinal())
            == 15585_000_000
        )
        # 59.99 GBP × 161.23 / 0.85905 = 11259.17… → 11259; JPY stays 12345
        assert rep["totals"]["grossRevenue"] == 1612 + 15585 + 11259 + 12345
        assert rep["totals"]["refunded"] == 15585
        # with an explicit currency: only purchases in it, unconverted
        usd = revenue_report.revenue(shop.conn, store, rng, None, "USD")
        assert usd["totals"]["grossRevenue"] == 150 and usd["missingRates"] == []
    finally:
        shop.close()


def test_rates_over_rest_and_the_reporting_currency(http: httpx.Client, db: Database) -> None:
    store = make_store(db)
    h = store.auth
    r = http.post("/api/rates", content=HIST_CSV, headers=h)
    assert r.status_code == 200 and r.json() == {
        "loaded": 6,
        "from": "2025-12-31",
        "to": "2026-01-02",
    }
    r = http.post(
        "/api/rates",
        json={"rates": [{"date": "2026-01-05", "currency": "USD", "rate": 1.05}]},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["loaded"] == 1
    got = http.get("/api/rates?date=2026-01-02", headers=h).json()
    assert {x["currency"]: x["rate"] for x in got["rates"]} == {
        "USD": 1.0345,
        "JPY": 161.23,
        "GBP": 0.85905,
    }
    bad = http.post("/api/rates", content="Date, USD\n02 January 2026, x\n", headers=h)
    assert bad.status_code == 422
    r = http.patch("/api/store", json={"reportingCurrency": "usd"}, headers=h)
    assert r.status_code == 200 and r.json()["reportingCurrency"] == "USD"
    assert http.patch("/api/store", json={"reportingCurrency": "US"}, headers=h).status_code == 422
    _ = timedelta


def test_the_worked_example_of_the_reports_doc_is_what_the_code_computes() -> None:
    """docs/reports.md's conversion table, row by row, against `rates.convert`."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text()
    section = text[text.index("## Currencies") :]
    rows = re.findall(r"^\| ([\d.]+) (USD|GBP|JPY|EUR) \|[^|]*\| ([\d.]+) \|$", section, re.M)
    assert len(rows) == 4

    class Fixed(rates.Table):
        def __init__(self) -> None:
            self.days = {c: [date(2026, 1, 2).toordinal()] for c in ("USD", "GBP", "JPY")}
            self.values = {
                "USD": [Decimal("1.0345")],
                "GBP": [Decimal("0.85905")],
                "JPY": [Decimal("161.23")],
            }

    table = Fixed()
    monday = date(2026, 1, 5).toordinal()
    total = 0
    for amount, cur, eur in rows:
        got = rates.convert(int(Decimal(amount) * 1_000_000), cur, "EUR", table, monday)
        assert got == int(Decimal(eur) * 1_000_000), (amount, cur)
        total += got or 0
    assert f"**{Decimal(total) / 1_000_000}**" in section
    assert rates.convert(10_000_000, "EUR", "JPY", table, monday) == 1612_000_000
    assert rates.convert(100_000_000, "USD", "JPY", table, monday) == 15585_000_000
    # 18 days after the last rate: missing
    assert rates.convert(50_000_000, "USD", "EUR", table, date(2026, 1, 20).toordinal()) is None


def test_a_purchase_refunded_in_parts_nets_to_exactly_zero_once_converted(db: Database) -> None:
    """Each part alone would round on its own (0.01 USD at 2 USD per EUR is 0.005 → 0.00 EUR
    three times, against 0.03 → 0.02 for the purchase); converted cumulatively, the parts add
    up to the converted purchase, whatever their days."""
    clock = FixedClock(datetime(2026, 1, 25, tzinfo=datetime.now().astimezone().tzinfo))
    shop = Shop(db, clock)
    try:
        with shop.conn.transaction():
            rates.load(shop.conn, [(date(2026, 1, 2), "USD", Decimal(2))], 0)
        _buy(shop, "tiny", "0.03", "USD", "2026-01-05")
        _buy(shop, "big", "100.01", "USD", "2026-01-05")
        store = stores.get_store(shop.conn, shop.store.id)
        assert store is not None
        parts = [("tiny", 10_000, 6), ("tiny", 10_000, 7), ("big", 33_330_000, 7)]
        parts += [("tiny", 10_000, 8), ("big", 33_340_000, 8), ("big", 33_340_000, 9)]
        for i, (pid, amount, day) in enumerate(parts):
            at = to_micros(datetime(2026, 1, day, 12, tzinfo=clock.now().tzinfo))
            with shop.conn.transaction():
                adjustments.record(
                    shop.conn,
                    store.id,
                    adjustments.Adjustment(pid, f"r{i}", "refund", at, amount=amount),
                    now=at,
                    channel="test",
                )
        rep = revenue_report.revenue(
            shop.conn, store, Range("UTC", date(2026, 1, 1), date(2026, 1, 24))
        )
        # 0.03 / 2 = 0.015 → 0.02; 100.01 / 2 = 50.005 → 50.00 (half even)
        assert rep["totals"]["grossRevenue"] == Decimal("50.02")
        assert rep["totals"]["refunded"] == Decimal("50.02")
        assert rep["totals"]["netRevenue"] == 0
        assert sum(b["refunded"] for b in rep["buckets"]) == Decimal("50.02")
    finally:
        shop.close()
