"""The products report: the top products by revenue and by units sold, net of returns."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shopevents.reports import figures
from shopevents.reports.facts import Facts, returns
from shopevents.reports.shared import range_facts, range_json, store_json
from shopevents.reports.timebuckets import Range
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


def products(
    conn: Conn,
    store: StoreRecord,
    rng: Range,
    limit: int = 10,
    currency: str | None = None,
    facts: Facts | None = None,
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
    for (cur, pid), (units, amount) in returns(conn, store.id, rng.start_us, rng.end_us).items():
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
        "store": store_json(store),
        **range_json(rng),
        "currency": currency,
        "products": len(acc),
        "byRevenue": [item(k, v) for k, v in by_revenue],
        "byUnits": [item(k, v) for k, v in by_units],
    }
