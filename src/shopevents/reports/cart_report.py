"""The carts report: carts created, abandoned, purchased and recovered per bucket, the
recovery rate and the recovered revenue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from shopevents.reports import figures
from shopevents.reports.facts import Facts
from shopevents.reports.shared import range_facts, range_json, store_json
from shopevents.reports.timebuckets import Range
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


def carts(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    facts: Facts | None = None,
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
        "store": store_json(store),
        **range_json(rng),
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
