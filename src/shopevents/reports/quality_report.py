"""The data quality report: events by outcome (accepted, duplicate, conflict, rejected) and
the warning and rejection codes, per bucket or per hour."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shopevents.reports.facts import Facts
from shopevents.reports.shared import range_facts, range_json, store_json
from shopevents.reports.timebuckets import (
    Range,
    hour_key,
    hour_label,
)
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

OUTCOMES = ("accepted", "duplicate", "conflict", "rejected")


def data_quality(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    facts: Facts | None = None,
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
        "store": store_json(store),
        **range_json(rng),
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
