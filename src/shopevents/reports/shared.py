"""What the named reports share: the head of each (the store, the range) and the facts of a
range, read once and handed to every report of an overview.

Each report takes a connection, a store and a `Range` (local days in the store's time zone)
and gives plain data: dicts, lists, ints and exact Decimals, the same for the dashboard, the
REST API and the CLI. Money is summed as integer millionths and turned into Decimal once.
"""

from __future__ import annotations

from typing import Any

from shopevents.reports.fact_reads import read_facts
from shopevents.reports.facts import Facts
from shopevents.reports.timebuckets import Range
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


def store_json(store: StoreRecord) -> dict[str, Any]:
    return {
        "id": store.id,
        "name": store.name,
        "currency": store.currency,
        "timezone": store.timezone,
    }


def range_json(rng: Range) -> dict[str, Any]:
    return {"from": rng.first.isoformat(), "to": rng.last.isoformat(), "interval": rng.interval}


def range_facts(
    conn: Conn, store: StoreRecord, rng: Range, parts: tuple[str, ...], hourly: bool = False
) -> Facts:
    """The facts of `parts` (`facts.KINDS`) for a store's range; quality facts per
    15-minute slot when `hourly`."""
    return read_facts(
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
