"""The named reports: revenue, carts, products, data quality, and the overview made of them.

Each takes a connection, a store and a `Range` (local days in the store's time zone) and
gives plain data: dicts, lists, ints and exact Decimals, the same for the dashboard, the
REST API and the CLI. Money is summed as integer millionths and turned into Decimal once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shopevents.clock import Clock, SystemClock, from_micros, to_micros
from shopevents.errors import FieldError
from shopevents.reports import figures, rates, rollups
from shopevents.reports.timebuckets import (
    SLOT_US,
    Range,
    hour_key,
    hour_label,
    local_today,
    make_range,
)
from shopevents.storage import stores
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

GROUP_BY = ("source_type", "source_name", "payment_method")
UNSPECIFIED = "unspecified"
OUTCOMES = ("accepted", "duplicate", "conflict", "rejected")
HOURLY_DAYS = 31
"""The overview shows events per hour for ranges up to this many days, else per interval."""
_DIM = {"source_type": 0, "source_name": 1, "payment_method": 2}


def _store_json(store: StoreRecord) -> dict[str, Any]:
    return {
        "id": store.id,
        "name": store.name,
        "currency": store.currency,
        "timezone": store.timezone,
    }


def _range_json(rng: Range) -> dict[str, Any]:
    return {"from": rng.first.isoformat(), "to": rng.last.isoformat(), "interval": rng.interval}


def range_facts(
    conn: Conn, store: StoreRecord, rng: Range, parts: tuple[str, ...], hourly: bool = False
) -> rollups.Facts:
    """The facts of `parts` (`rollups.KINDS`) for a store's range; quality facts per
    15-minute slot when `hourly`."""
    return rollups.read_facts(
        conn,
        store.id,
        store.timezone,
        rng.start_us,
        rng.end_us,
        rng.first_ord,
        rng.last_ord,
        parts,
        hourly=hourly,
    )


# --- revenue ---------------------------------------------------------------------------------


def revenue(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    group_by: str | None = None,
    currency: str | None = None,
    facts: rollups.Facts | None = None,
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
            cur: rollups.foreign_rows(conn, store.id, store.timezone, cur, rng.start_us, rng.end_us)
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
        "store": _store_json(store),
        **_range_json(rng),
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


# --- carts -----------------------------------------------------------------------------------


def carts(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    facts: rollups.Facts | None = None,
) -> dict[str, Any]:
    """Carts created, abandoned, purchased and recovered per bucket; the recovery rate (of
    the carts abandoned in the range, the share recovered since) and the recovered revenue
    (purchases in the range that recovered an abandoned cart, store currency)."""
    facts = facts or range_facts(conn, store, rng, ("carts", "sales"))
    measures = ("created", "abandoned", "purchased", "recovered")
    buckets = rng.buckets()
    per: dict[date, dict[str, int]] = {b: dict.fromkeys(measures, 0) for b in buckets}
    totals: dict[str, int] = dict.fromkeys((*measures, "recovered_of_abandoned"), 0)
    for (day, measure), n in facts.carts.items():
        totals[measure] = totals.get(measure, 0) + n
        if measure in measures:
            per[rng.bucket_of_day(day)][measure] += n
    recovered_revenue = sum(
        v[3] for (_, cur, *_rest), v in facts.sales.items() if cur == store.currency
    )
    rate = (
        (Decimal(totals["recovered_of_abandoned"]) / Decimal(totals["abandoned"])).quantize(
            Decimal("0.0001")
        )
        if totals["abandoned"]
        else None
    )
    return {
        "store": _store_json(store),
        **_range_json(rng),
        "currency": store.currency,
        "totals": {
            "created": totals["created"],
            "abandoned": totals["abandoned"],
            "purchased": totals["purchased"],
            "recovered": totals["recovered"],
            "abandonedThenRecovered": totals["recovered_of_abandoned"],
            "recoveryRate": rate,
            "recoveredRevenue": figures.money(recovered_revenue),
        },
        "buckets": [{"start": b.isoformat(), **per[b]} for b in buckets],
    }


# --- products --------------------------------------------------------------------------------


def products(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    limit: int = 10,
    currency: str | None = None,
    facts: rollups.Facts | None = None,
) -> dict[str, Any]:
    """Top products by revenue and by units sold (purchase lines in `currency`), net of
    returns (refunds by lines, counted on the day of the return): ranked by `netRevenue` and
    `netUnits`; `units` and `revenue` are as sold."""
    currency = (currency or store.currency).upper()
    facts = facts or range_facts(conn, store, rng, ("sales",))
    # units, revenue, orders, returned units, returned amount
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for (_day, cur, pid), (units, rev, orders) in facts.products.items():
        if cur != currency:
            continue
        a = acc[pid]
        a[0] += units
        a[1] += rev
        a[2] += orders
    for (cur, pid), (units, amount) in rollups.returns(
        conn, store.id, rng.start_us, rng.end_us
    ).items():
        if cur == currency:
            acc[pid][3] += units
            acc[pid][4] += amount

    def item(pid: str, v: list[int]) -> dict[str, Any]:
        return {
            "productId": pid,
            "name": facts.names.get(pid, pid),
            "units": v[0],
            "revenue": figures.money(v[1]),
            "orders": v[2],
            "returnedUnits": v[3],
            "returned": figures.money(v[4]),
            "netUnits": v[0] - v[3],
            "netRevenue": figures.money(v[1] - v[4]),
        }

    by_revenue = sorted(acc.items(), key=lambda kv: (-(kv[1][1] - kv[1][4]), -kv[1][0], kv[0]))[
        :limit
    ]
    by_units = sorted(acc.items(), key=lambda kv: (-(kv[1][0] - kv[1][3]), -kv[1][1], kv[0]))[
        :limit
    ]
    return {
        "store": _store_json(store),
        **_range_json(rng),
        "currency": currency,
        "products": len(acc),
        "byRevenue": [item(k, v) for k, v in by_revenue],
        "byUnits": [item(k, v) for k, v in by_units],
    }


# --- data quality ----------------------------------------------------------------------------


def data_quality(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    facts: rollups.Facts | None = None,
    until_us: int | None = None,
) -> dict[str, Any]:
    """Events by outcome (accepted, duplicate, conflict from `events`; rejected from the
    quarantine) and warning and rejection codes, per bucket (`hour` allowed; hours after
    `until_us` left out)."""
    hourly = rng.interval == "hour"
    if facts is None or (hourly and facts.quality_unit != "slot"):
        facts = range_facts(conn, store, rng, ("events", "rejections"), hourly=hourly)
    by_slot = facts.quality_unit == "slot"
    keys: list[Any] = rng.hour_buckets() if hourly else rng.buckets()
    if hourly and until_us is not None:
        keys = [k for k in keys if k <= until_us]
    outcome: dict[Any, dict[str, int]] = {k: dict.fromkeys(OUTCOMES, 0) for k in keys}
    warnings: dict[Any, dict[str, int]] = {k: defaultdict(int) for k in keys}
    rejections: dict[Any, dict[str, int]] = {k: defaultdict(int) for k in keys}
    totals = dict.fromkeys(OUTCOMES, 0)
    warning_totals: dict[str, int] = defaultdict(int)
    rejection_totals: dict[str, int] = defaultdict(int)
    cart_rejections = 0
    cache: dict[int, Any] = {}
    for (unit, kind, code), n in facts.quality.items():
        k = cache.get(unit)
        if k is None:
            if hourly:
                k = hour_key(unit, rng.tz)
            else:
                k = rng.bucket_of_day(rng.slot_day(unit) if by_slot else unit)
            cache[unit] = k
        if k not in outcome:
            continue
        if kind == "status":
            if code in outcome[k]:
                outcome[k][code] += n
                totals[code] += n
        elif kind == "warning":
            warnings[k][code] += n
            warning_totals[code] += n
        elif kind == "rejected":
            outcome[k]["rejected"] += n
            totals["rejected"] += n
            rejections[k][code] += n
            rejection_totals[code] += n
        elif kind == "rejected_cart":
            cart_rejections += n
            rejections[k]["cart:" + code] += n
            rejection_totals["cart:" + code] += n

    def label(k: Any) -> str:
        return hour_label(k, rng.tz) if hourly else k.isoformat()

    received = sum(totals.values())
    return {
        "store": _store_json(store),
        **_range_json(rng),
        "totals": {**totals, "received": received, "cartRejections": cart_rejections},
        "warningCodes": [
            {"code": c, "count": n}
            for c, n in sorted(warning_totals.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "rejectionCodes": [
            {"code": c, "count": n}
            for c, n in sorted(rejection_totals.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "buckets": [
            {
                "start": label(k),
                **outcome[k],
                "warnings": dict(sorted(warnings[k].items())),
                "rejections": dict(sorted(rejections[k].items())),
            }
            for k in keys
        ],
    }


# --- the overview ----------------------------------------------------------------------------


def overview_for(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    group_by: str = "source_type",
    limit: int = 10,
) -> dict[str, Any]:
    """Every overview report over one read of the facts."""
    hourly = rng.days <= HOURLY_DAYS
    facts = range_facts(conn, store, rng, rollups.KINDS, hourly=hourly)
    events_rng = Range(store.timezone, rng.first, rng.last, "hour" if hourly else rng.interval)
    return {
        "revenue": revenue(conn, store, rng, group_by, facts=facts),
        "carts": carts(conn, store, rng, facts=facts),
        "products": products(conn, store, rng, limit, facts=facts),
        "quality": data_quality(conn, store, events_rng, facts=facts),
    }


def overview(
    conn: Conn,
    store_id: str,
    start: int | datetime,
    end: int | datetime,
    *,
    interval: str = "day",
    group_by: str = "source_type",
    maintain: bool = True,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """The overview for the local days touched by [start, end) (µs or datetimes).

    With `maintain` (the default, for callers holding their own connection such as the CLI
    and the bench) the store's rollups are first brought up to date on this connection, up
    to the time of `clock` (default: the system's); the server does that in the background
    instead.
    """
    store = stores.get_store(conn, store_id)
    if store is None:
        raise LookupError(f"no store has the id {store_id!r}")
    start_dt = start if isinstance(start, datetime) else from_micros(int(start))
    end_dt = end if isinstance(end, datetime) else from_micros(int(end))
    if maintain:
        now = (clock or SystemClock()).now()
        rollups.catch_up(conn, store.id, store.timezone, to_micros(now))
    first = local_today(store.timezone, start_dt)
    last = local_today(store.timezone, from_micros(max(to_micros(end_dt) - 1, to_micros(start_dt))))
    rng = make_range(store.timezone, last, first.isoformat(), last.isoformat(), interval)
    return overview_for(conn, store, rng, group_by)


__all__ = [
    "GROUP_BY",
    "OUTCOMES",
    "SLOT_US",
    "carts",
    "data_quality",
    "overview",
    "overview_for",
    "products",
    "revenue",
]
