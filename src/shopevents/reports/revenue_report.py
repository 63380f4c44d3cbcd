"""The revenue report: gross, refunded and net revenue and orders per bucket, split by
source type, source name and payment method, converted to the store's reporting currency
(`reports.rates`) or in one original currency."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from shopevents.errors import FieldError
from shopevents.reports import figures, rates
from shopevents.reports.facts import Facts, foreign_rows
from shopevents.reports.shared import range_facts, range_json, store_json
from shopevents.reports.timebuckets import Range
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

GROUP_BY = ("source_type", "source_name", "payment_method")
UNSPECIFIED = "unspecified"
_DIM = {"source_type": 0, "source_name": 1, "payment_method": 2}


def revenue(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    group_by: str | None = None,
    currency: str | None = None,
    facts: Facts | None = None,
) -> dict[str, Any]:
    """Revenue and orders per bucket, optionally split by source_type, source_name or
    payment_method: gross (purchases, on their day), refunded (refunds and cancellations, on
    their own day; `cancelled` is the part by cancellations) and net (gross − refunded).

    Without `currency`, every purchase is converted to the store's reporting currency, each on
    its own at the rate of its local day (a refund at its purchase's, converted cumulatively: the
    purchase's refunds so far, converted, less those before it), rounded once; those
    without a rate are left out of the figures and listed in `otherCurrencies` and
    `missingRates`. With `currency`, only purchases in that original currency are summed,
    unconverted, and the others are listed in `otherCurrencies`. `byCurrency` gives the
    figures per original currency, unconverted."""
    if group_by is not None and group_by not in GROUP_BY:
        raise FieldError(
            "/groupBy", f"Expected one of {', '.join(GROUP_BY)}; received {group_by!r}"
        )
    converting = currency is None
    currency = (currency or store.reporting).upper()
    facts = facts or range_facts(conn, store, rng, ("sales",))
    buckets = rng.buckets()

    per: dict[date, list[int]] = {b: figures.empty() for b in buckets}
    per_group: dict[date, dict[str, list[int]]] = {b: defaultdict(figures.empty) for b in buckets}
    groups: dict[str, list[int]] = defaultdict(figures.empty)
    dims: dict[str, dict[str, list[int]]] = {g: defaultdict(figures.empty) for g in GROUP_BY}
    others: dict[str, list[int]] = defaultdict(figures.empty)
    total = figures.empty()
    recovered = [0, 0]

    by_currency: dict[str, list[int]] = defaultdict(figures.empty)
    foreign: set[str] = set()

    def add(day: int, cur: str, keys: tuple[str, str, str], vals: list[int]) -> None:
        if cur != currency:
            if converting:
                foreign.add(cur)
            else:
                figures.add(others[cur], vals)
            return
        b = rng.bucket_of_day(day)
        figures.add(per[b], vals)
        figures.add(total, vals)
        keys = (keys[0] or UNSPECIFIED, keys[1] or UNSPECIFIED, keys[2] or UNSPECIFIED)
        for g, k in zip(GROUP_BY, keys, strict=True):
            figures.add(dims[g][k], vals)
        if group_by:
            k = keys[_DIM[group_by]]
            figures.add(per_group[b][k], vals)
            figures.add(groups[k], vals)

    for (day, cur, st, sn, pm), (orders, rev, rorders, rrev) in facts.sales.items():
        figures.add(by_currency[cur], [orders, rev, 0, 0, 0, 0])
        add(day, cur, (st, sn, pm), [orders, rev, 0, 0, 0, 0])
        if cur == currency:
            recovered[0] += rorders
            recovered[1] += rrev
    for (day, cur, st, sn, pm, kind), (n, amount) in facts.refunds.items():
        vals = figures.adjustment(kind, n, amount)
        figures.add(by_currency[cur], vals)
        add(day, cur, (st, sn, pm), vals)
    missing: set[tuple[int, str]] = set()
    if foreign:
        rows = {
            cur: foreign_rows(conn, store.id, store.timezone, cur, rng.start_us, rng.end_us)
            for cur in sorted(foreign)
        }
        first = min([rng.first_ord] + [a[1] for _, adj in rows.values() for a in adj])
        table = rates.Table(conn, {*foreign, currency}, first, rng.last_ord)
        for cur, (bought, adjusted) in rows.items():
            for day, st, sn, pm, rec, price in bought:
                value = rates.convert(price, cur, currency, table, day)
                if value is None:
                    missing.add((day, cur))
                    figures.add(others[cur], [1, price, 0, 0, 0, 0])
                    continue
                add(day, currency, (st, sn, pm), [1, value, 0, 0, 0, 0])
                if rec:
                    recovered[0] += 1
                    recovered[1] += value
            for day, pday, st, sn, pm, kind, amount, before in adjusted:
                # converted cumulatively, so a purchase's refunds add up to its converted total
                upto = rates.convert(before + amount, cur, currency, table, pday)
                prior = rates.convert(before, cur, currency, table, pday) if before else 0
                value = None if upto is None or prior is None else upto - prior
                if value is None:
                    missing.add((pday, cur))
                    figures.add(others[cur], figures.adjustment(kind, 1, amount))
                    continue
                add(day, currency, (st, sn, pm), figures.adjustment(kind, 1, value))

    def ranked(d: dict[str, list[int]]) -> list[dict[str, Any]]:
        return [
            {"key": k, **figures.summary(v)}
            for k, v in sorted(d.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
        ]

    order = [g["key"] for g in ranked(groups)]
    out_buckets = []
    for b in buckets:
        item: dict[str, Any] = {"start": b.isoformat(), **figures.summary(per[b])}
        if group_by:
            item["groups"] = {
                k: figures.summary(per_group[b][k]) for k in order if k in per_group[b]
            }
        out_buckets.append(item)
    return {
        "store": store_json(store),
        **range_json(rng),
        "currency": currency,
        "groupBy": group_by,
        "totals": {
            **figures.summary(total),
            "recoveredOrders": recovered[0],
            "recoveredRevenue": figures.money(recovered[1]),
        },
        "groups": order,
        "buckets": out_buckets,
        "byGroup": ranked(groups) if group_by else [],
        "splits": {g: ranked(dims[g]) for g in GROUP_BY},
        "otherCurrencies": [
            {"currency": c, **figures.summary(v)} for c, v in sorted(others.items())
        ],
        "missingRates": [
            {"date": date.fromordinal(d).isoformat(), "currency": c} for d, c in sorted(missing)
        ],
        "byCurrency": [
            {"currency": c, **figures.summary(v)} for c, v in sorted(by_currency.items())
        ],
    }
