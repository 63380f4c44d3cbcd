"""Report facts: what the reports fold for one store and one range (`Facts`), and the sums
of base-table rows that make them, shared by the rollups' catch-up (`reports.rollups`) and
the reads of a range's tail past the watermarks (`reports.fact_reads`).

Sources: `purchases` (+ `purchase_lines`) → sales and product days; `purchase_adjustments`
→ refund days (dated by the refund or cancellation, migration 0900); `cart_transitions` →
cart days; `events` → outcome and warning slots and days; `quarantine` → rejection slots
and days. Slots are 15-minute UTC slots (for hourly figures), days and months are local;
product sales are also kept per month, so a year of top products reads a few thousand rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from shopevents.jsoncodec import loads
from shopevents.reports.timebuckets import slot_local_day, zone
from shopevents.storage import report_facts as base
from shopevents.storage.database import Conn

KINDS = ("sales", "carts", "events", "rejections", "refunds")
"""The kinds of facts, each rolled up to a watermark of its own."""
CART_MEASURES = ("created", "abandoned", "purchased", "recovered", "recovered_of_abandoned")


@dataclass
class Facts:
    """Everything the reports need for one store and one range, ready to fold."""

    # (day, currency, source_type, source_name, payment_method) -> [orders, revenue, rec_orders, rec_revenue]
    sales: dict[tuple[int, str, str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    # (day, currency, product_id) -> [units, revenue, orders]; names separately
    products: dict[tuple[int, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0])
    )
    names: dict[str, str] = field(default_factory=dict)
    # (day, currency, source_type, source_name, payment_method, kind) -> [n, amount]; dated
    # by the adjustment, kind refund | cancellation
    refunds: dict[tuple[int, str, str, str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    # (day, measure) -> n
    carts: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    # (slot or day, kind, code) -> n ; kind: status | warning | rejected | rejected_cart
    quality: dict[tuple[int, str, str], int] = field(default_factory=lambda: defaultdict(int))
    quality_unit: str = "slot"


def _txt(value: Any) -> str:
    return "" if value is None else str(value)


class Days:
    """Slot -> local day ordinal, cached."""

    def __init__(self, tz_name: str) -> None:
        self.tz = zone(tz_name)
        self.cache: dict[int, int] = {}

    def __call__(self, slot: int) -> int:
        hit = self.cache.get(slot)
        if hit is None:
            hit = self.cache[slot] = slot_local_day(int(slot), self.tz)
        return hit


def add_sales(conn: Conn, store_id: str, days: Days, facts: Facts, rows: base.Bounds) -> None:
    for slot, cur, st, sn, pm, rec, n, total in base.sales(conn, store_id, rows):
        acc = facts.sales[(days(slot), cur, _txt(st), _txt(sn), _txt(pm))]
        acc[0] += int(n)
        acc[1] += int(total)
        if rec:
            acc[2] += int(n)
            acc[3] += int(total)
    for slot, cur, pid, name, units, revenue, orders in base.products(conn, store_id, rows):
        acc = facts.products[(days(slot), cur, pid)]
        acc[0] += int(units)
        acc[1] += int(revenue)
        acc[2] += int(orders)
        facts.names[pid] = name


def add_refunds(conn: Conn, store_id: str, days: Days, facts: Facts, rows: base.Bounds) -> None:
    """Refunds and cancellations, on the local day they were made."""
    for slot, cur, st, sn, pm, kind, n, amount in base.refunds(conn, store_id, rows):
        acc = facts.refunds[(days(slot), cur, _txt(st), _txt(sn), _txt(pm), kind)]
        acc[0] += int(n)
        acc[1] += int(amount)


def foreign_rows(
    conn: Conn, store_id: str, tz_name: str, currency: str, start: int, end: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The purchases (purchase day, st, sn, pm, recovered, total) and adjustments (adjustment
    day, purchase day, st, sn, pm, kind, amount, the purchase's adjustments before it) in
    `currency` in the range, one by one, for conversion (each is converted on its own, at its
    purchase's local day)."""
    days = Days(tz_name)
    purchases = [
        (days(slot), _txt(st), _txt(sn), _txt(pm), rec, int(total))
        for slot, st, sn, pm, rec, total in base.foreign_purchases(
            conn, store_id, currency, start, end
        )
    ]
    adjusted = [
        (days(slot), days(pslot), _txt(st), _txt(sn), _txt(pm), kind, int(amount), int(before))
        for slot, pslot, st, sn, pm, kind, amount, before in base.foreign_adjustments(
            conn, store_id, currency, start, end
        )
    ]
    return purchases, adjusted


def returns(conn: Conn, store_id: str, start: int, end: int) -> dict[tuple[str, str], list[int]]:
    """Units and amounts returned (refunds by lines) per (currency, product), on the day of
    the return; read from the adjustments themselves (returns are few)."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for cur, lines in base.returned_lines(conn, store_id, start, end):
        for ln in lines:
            acc = out[(cur, str(ln["productId"]))]
            acc[0] += int(ln["quantity"])
            acc[1] += int(ln["amount"])
    return out


def add_carts(conn: Conn, store_id: str, days: Days, facts: Facts, rows: base.Bounds) -> None:
    for slot, to_state, first, n in base.carts(conn, store_id, rows):
        day = days(slot)
        if first:
            facts.carts[(day, "created")] += int(n)
        if to_state in ("abandoned", "purchased", "recovered"):
            facts.carts[(day, to_state)] += int(n)
    # Recovered carts, counted on the day they were abandoned (for the recovery rate).
    for slot, n in base.recovered_by_abandonment(conn, store_id, rows):
        facts.carts[(days(slot), "recovered_of_abandoned")] += int(n)


def add_events(conn: Conn, store_id: str, facts: Facts, rows: base.Bounds) -> None:
    for slot, status, n in base.statuses(conn, store_id, rows):
        facts.quality[(int(slot), "status", status)] += int(n)
    for slot, warnings, n in base.warnings(conn, store_id, rows):
        for code in warning_codes(warnings):
            facts.quality[(int(slot), "warning", code)] += int(n)


def warning_codes(text: Any) -> set[str]:
    try:
        items = loads(text)
    except Exception:
        return set()
    if not isinstance(items, list):
        return set()
    return {str(w.get("code")) for w in items if isinstance(w, dict) and w.get("code")}


def add_rejections(conn: Conn, store_id: str, facts: Facts, rows: base.Bounds) -> None:
    for slot, code, is_cart, n in base.rejections(conn, store_id, rows):
        facts.quality[(int(slot), "rejected_cart" if is_cart else "rejected", code)] += int(n)


def add_kind(
    conn: Conn, store_id: str, days: Days, facts: Facts, kind: str, rows: base.Bounds
) -> None:
    """Add the base rows of one kind (`KINDS`) to `facts`."""
    if kind == "sales":
        add_sales(conn, store_id, days, facts, rows)
    elif kind == "carts":
        add_carts(conn, store_id, days, facts, rows)
    elif kind == "refunds":
        add_refunds(conn, store_id, days, facts, rows)
    elif kind == "events":
        add_events(conn, store_id, facts, rows)
    else:
        add_rejections(conn, store_id, facts, rows)
