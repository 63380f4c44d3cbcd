"""Report facts: rollups up to a watermark, plus the base rows after it.

Reports never scan the whole history. For each store and each source table the rows with
an id up to a watermark are summed into a rollup table (migration 0200); a report reads the
rollup rows of its range and adds the base rows past the watermark. The result is the same
as summing the base table, whatever the watermark is, so rollups only ever make reports
faster and never change their figures (a test checks it).

Nothing in the write path knows about rollups. `catch_up` moves a watermark forward over
rows old enough (`MARGIN_US`) that every transaction that could still commit a smaller id
has finished (ids taken ahead in blocks are used within a minute or dropped: storage's
`ID_BLOCK_SECONDS`); the move is a compare-and-set on the watermark, so concurrent catch-ups (two
dashboards, the CLI) never count a row twice. Day rollups are in the store's time zone and
remember it: a change of time zone discards them and they are built again.

Sources: `purchases` (+ `purchase_lines`) → sales and product days; `purchase_adjustments`
→ refund days (dated by the refund or cancellation, migration 0900); `cart_transitions` →
cart days; `events` → outcome and warning slots and days; `quarantine` → rejection slots
and days. Slots are 15-minute UTC slots (for hourly figures), days and months are local;
product sales are also kept per month, so a year of top products reads a few thousand rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from shopevents.reports.timebuckets import SLOT_US, slot_local_day, zone
from shopevents.storage import report_facts as base
from shopevents.storage import rollups as stored
from shopevents.storage.codec import loads
from shopevents.storage.database import Conn

MARGIN_US = 10 * 60 * 1_000_000
"""Rows younger than this stay in the base-table tail (longer than any write transaction)."""
CHUNK_IDS = 500_000
"""Most ids one catch-up step covers, so each step is short."""

KINDS = ("sales", "carts", "events", "rejections", "refunds")
CART_MEASURES = ("created", "abandoned", "purchased", "recovered", "recovered_of_abandoned")


# --- facts ---------------------------------------------------------------------------------


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


class _Days:
    """Slot -> local day ordinal, cached."""

    def __init__(self, tz_name: str) -> None:
        self.tz = zone(tz_name)
        self.cache: dict[int, int] = {}

    def __call__(self, slot: int) -> int:
        hit = self.cache.get(slot)
        if hit is None:
            hit = self.cache[slot] = slot_local_day(int(slot), self.tz)
        return hit


# --- base-table aggregates (shared by catch-up and report tails) ----------------------------


def add_sales(conn: Conn, store_id: str, days: _Days, facts: Facts, rows: base.Bounds) -> None:
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


def add_refunds(conn: Conn, store_id: str, days: _Days, facts: Facts, rows: base.Bounds) -> None:
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
    days = _Days(tz_name)
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


def add_carts(conn: Conn, store_id: str, days: _Days, facts: Facts, rows: base.Bounds) -> None:
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


# --- reading rollups + tails --------------------------------------------------------------


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
    days = _Days(tz_name)
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


# --- catching up ------------------------------------------------------------------------------


@dataclass
class Chunk:
    """One catch-up step: the rows of `kind` with lo < id <= hi, summed."""

    store_id: str
    kind: str
    tz_name: str
    lo: int
    hi: int
    reset: bool
    exists: bool
    facts: Facts


def next_chunk(conn: Conn, store_id: str, tz_name: str, kind: str, now_us: int) -> Chunk | None:
    """Read (outside any write transaction) the next step of `kind`, or None if up to date."""
    row = stored.watermark(conn, store_id, kind)
    reset = row is not None and row.timezone != tz_name
    lo = 0 if row is None or reset else row.last_id
    last = base.last_id(conn, kind, lo, now_us - MARGIN_US)
    if last is None and not reset:
        return None
    hi = min(last if last is not None else lo, lo + CHUNK_IDS)
    rows = base.Bounds(lo, hi)
    facts = Facts()
    days = _Days(tz_name)
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
    return Chunk(store_id, kind, tz_name, lo, hi, reset, row is not None and not reset, facts)


def apply_chunk(conn: Conn, chunk: Chunk, now_us: int) -> bool:
    """Inside a write transaction: move the watermark lo -> hi (compare-and-set) and add the
    chunk's sums. False, changing nothing, if another catch-up moved it first."""
    sid, kind = chunk.store_id, chunk.kind
    if chunk.reset:
        if not stored.drop_other_zone(conn, sid, kind, chunk.tz_name):
            return False
        stored.reset(conn, sid, kind)
    if not chunk.exists:
        if not stored.start(conn, sid, kind, chunk.tz_name, chunk.hi, now_us):
            return False
    elif not stored.move(conn, sid, kind, chunk.tz_name, chunk.lo, chunk.hi, now_us):
        return False
    f = chunk.facts
    if f.sales:
        stored.add_sales_days(conn, sid, [(*key, *vals) for key, vals in f.sales.items()])
    if f.products:
        stored.add_product_days(
            conn,
            sid,
            [
                base.ProductSales(day, cur, pid, f.names.get(pid, pid), *vals)
                for (day, cur, pid), vals in f.products.items()
            ],
        )
        months: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for (day, cur, pid), vals in f.products.items():
            acc = months[(date.fromordinal(day).replace(day=1).toordinal(), cur, pid)]
            for i in range(3):
                acc[i] += vals[i]
        stored.add_product_months(
            conn,
            sid,
            [
                base.ProductSales(month, cur, pid, f.names.get(pid, pid), *vals)
                for (month, cur, pid), vals in months.items()
            ],
        )
    if f.refunds:
        stored.add_refund_days(conn, sid, [(*key, *vals) for key, vals in f.refunds.items()])
    if f.carts:
        stored.add_cart_days(
            conn, sid, [stored.CartDay(day, measure, n) for (day, measure), n in f.carts.items()]
        )
    if f.quality:
        stored.add_quality_slots(
            conn, sid, [stored.QualityCount(*key, n) for key, n in f.quality.items()]
        )
        days = _Days(chunk.tz_name)
        by_day: dict[tuple[int, str, str], int] = defaultdict(int)
        for (slot, kind, code), n in f.quality.items():
            by_day[(days(slot), kind, code)] += n
        stored.add_quality_days(
            conn, sid, [stored.QualityCount(*key, n) for key, n in by_day.items()]
        )
    return True


def catch_up(conn: Conn, store_id: str, tz_name: str, now_us: int) -> int:
    """Bring every rollup of a store up to date on this connection (CLI, bench, tests).
    Give how many steps were applied."""
    steps = 0
    for kind in KINDS:
        while True:
            chunk = next_chunk(conn, store_id, tz_name, kind, now_us)
            if chunk is None:
                break
            with conn.transaction():
                ok = apply_chunk(conn, chunk, now_us)
            steps += 1
            if not ok or chunk.hi == chunk.lo:
                break
    return steps


def drop(conn: Conn, store_id: str) -> None:
    """Forget every rollup of a store (they are built again on the next catch-up)."""
    stored.drop(conn, store_id)
