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

The facts and the sums of base rows that make them are in `reports.facts`; a range's facts
are read in `reports.fact_reads`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from shopevents.reports.facts import KINDS, Days, Facts, add_kind
from shopevents.storage import report_facts as base
from shopevents.storage import rollups as stored
from shopevents.storage.database import Conn

MARGIN_US = 10 * 60 * 1_000_000
"""Rows younger than this stay in the base-table tail (longer than any write transaction)."""
CHUNK_IDS = 500_000
"""Most ids one catch-up step covers, so each step is short."""


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
    add_kind(conn, store_id, Days(tz_name), facts, kind, rows)
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
        days = Days(chunk.tz_name)
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
