"""The overview: every named report (revenue, carts, products, data quality) over one read
of the facts, as the dashboard's overview page, the CLI and the bench show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shopevents.clock import Clock, SystemClock, from_micros, to_micros
from shopevents.reports import rollups
from shopevents.reports.cart_report import carts
from shopevents.reports.facts import KINDS
from shopevents.reports.product_report import products
from shopevents.reports.quality_report import data_quality
from shopevents.reports.revenue_report import revenue
from shopevents.reports.shared import range_facts
from shopevents.reports.timebuckets import (
    Range,
    local_today,
    make_range,
)
from shopevents.storage import stores
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

HOURLY_DAYS = 31
"""The overview shows events per hour for ranges up to this many days, else per interval."""


def overview_for(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    group_by: str = "source_type",
    limit: int = 10,
) -> dict[str, Any]:
    """Every overview report over one read of the facts."""
    hourly = rng.days <= HOURLY_DAYS
    facts = range_facts(conn, store, rng, KINDS, hourly=hourly)
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
