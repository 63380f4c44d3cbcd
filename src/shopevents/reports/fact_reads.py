"""A range's facts: the rollup rows of its local days (whole months for product sales) plus
the base rows past each watermark (`reports.rollups`), the same as summing the base tables
whatever the watermarks are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from shopevents.reports.facts import (
    KINDS,
    Days,
    Facts,
    add_carts,
    add_events,
    add_refunds,
    add_rejections,
    add_sales,
)
from shopevents.reports.timebuckets import SLOT_US
from shopevents.storage import report_facts as base
from shopevents.storage import rollups as stored
from shopevents.storage.database import Conn


def watermarks(conn: Conn, store_id: str, tz_name: str) -> dict[str, int]:
    """The usable watermark of each kind (0: no rollup yet, or one in another time zone)."""
    out = dict.fromkeys(KINDS, 0)
    for kind, tz, last_id in stored.watermarks(conn, store_id):
        if kind in out and tz == tz_name:
            out[kind] = last_id
    return out


def full_months(first_day: int, last_day: int) -> list[int]:
    """Ordinals of the first days of the months lying wholly in first_day..last_day."""
    out = []
    d = date.fromordinal(first_day)
    m = d if d.day == 1 else (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    while True:
        nxt = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
        if nxt.toordinal() - 1 > last_day:
            break
        out.append(m.toordinal())
        m = nxt
    return out


def read_facts(
    conn: Conn,
    store_id: str,
    tz_name: str,
    start_us: int,
    end_us: int,
    first_day: int,
    last_day: int,
    parts: Iterable[str] = KINDS,
    *,
    hourly: bool = False,
) -> Facts:
    """Facts for local days first_day..last_day (= instants start_us..end_us). Quality facts
    are keyed by 15-minute slot when `hourly`, else by local day."""
    parts = set(parts)
    marks = watermarks(conn, store_id, tz_name)
    days = Days(tz_name)
    facts = Facts()
    facts.quality_unit = "slot" if hourly else "day"

    def past(mark: int) -> base.Bounds:
        """The base rows of the range past a watermark."""
        return base.Bounds(mark, None, start_us, end_us)

    if "sales" in parts:
        if marks["sales"]:
            for day, cur, st, sn, pm, o, r, ro, rr in stored.sales_days(
                conn, store_id, first_day, last_day
            ):
                acc = facts.sales[(int(day), cur, st, sn, pm)]
                acc[0] += int(o)
                acc[1] += int(r)
                acc[2] += int(ro)
                acc[3] += int(rr)
            months = full_months(first_day, last_day)
            rows: list[base.ProductSales] = []
            if months:
                m_first = months[0]
                m_end = (
                    (date.fromordinal(months[-1]).replace(day=28) + timedelta(days=4))
                    .replace(day=1)
                    .toordinal()
                )
                rows += stored.product_months(conn, store_id, m_first, months[-1])
                spans = [(first_day, m_first - 1), (m_end, last_day)]
            else:
                spans = [(first_day, last_day)]
            for lo_day, hi_day in spans:
                if lo_day <= hi_day:
                    rows += stored.product_days(conn, store_id, lo_day, hi_day)
            for day, cur, pid, name, units, revenue, orders in rows:
                acc = facts.products[(int(day), cur, pid)]
                acc[0] += int(units)
                acc[1] += int(revenue)
                acc[2] += int(orders)
                facts.names.setdefault(pid, name)
        add_sales(conn, store_id, days, facts, past(marks["sales"]))
        if marks["refunds"]:
            for day, cur, st, sn, pm, kind, n, amount in stored.refund_days(
                conn, store_id, first_day, last_day
            ):
                acc = facts.refunds[(int(day), cur, st, sn, pm, kind)]
                acc[0] += int(n)
                acc[1] += int(amount)
        add_refunds(conn, store_id, days, facts, past(marks["refunds"]))
    if "carts" in parts:
        if marks["carts"]:
            for day, measure, n in stored.cart_days(conn, store_id, first_day, last_day):
                facts.carts[(int(day), measure)] += int(n)
        add_carts(conn, store_id, days, facts, past(marks["carts"]))
    if "events" in parts or "rejections" in parts:
        if marks["events"] or marks["rejections"]:
            if hourly:
                counted = stored.quality_slots(
                    conn, store_id, start_us // SLOT_US, end_us // SLOT_US
                )
            else:
                counted = stored.quality_days(conn, store_id, first_day, last_day)
            for key, kind, code, n in counted:
                if (kind in ("status", "warning") and marks["events"]) or (
                    kind.startswith("rejected") and marks["rejections"]
                ):
                    facts.quality[(int(key), kind, code)] += int(n)
        tail = Facts()
        add_events(conn, store_id, tail, past(marks["events"]))
        add_rejections(conn, store_id, tail, past(marks["rejections"]))
        for (slot, kind, code), n in tail.quality.items():
            facts.quality[(slot if hourly else days(slot), kind, code)] += n
    return facts
