"""The money figures of a set of orders, shared by the revenue and the sources reports.

They are summed in an accumulator of six integers (orders, gross, refunded, cancelled amount,
cancelled orders, refunds; amounts in integer millionths) and turned into Decimals once, by
`summary`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shopevents.storage.codec import money_from_db


def money(value: int) -> Decimal:
    return money_from_db(value) or Decimal(0)


def empty() -> list[int]:
    """An accumulator with nothing in it."""
    return [0, 0, 0, 0, 0, 0]


def adjustment(kind: str, n: int, amount: int) -> list[int]:
    """What `n` refunds or cancellations (`kind`) of `amount` in all add to an accumulator."""
    if kind == "cancellation":
        return [0, 0, amount, amount, n, 0]
    return [0, 0, amount, 0, 0, n]


def add(acc: list[int], vals: list[int]) -> None:
    for i, v in enumerate(vals):
        acc[i] += v


def summary(v: list[int]) -> dict[str, Any]:
    """Orders, gross, refunded, net and the average order value (net over the orders not
    cancelled) of one accumulator. `revenue` is the gross, as before the lifecycle."""
    net = v[1] - v[2]
    kept = v[0] - v[4]
    return {
        "orders": v[0],
        "revenue": money(v[1]),
        "grossRevenue": money(v[1]),
        "refunded": money(v[2]),
        "cancelled": money(v[3]),
        "cancelledOrders": v[4],
        "refunds": v[5],
        "netRevenue": money(net),
        "averageOrderValue": (money(net) / kept).quantize(Decimal("0.01"))
        if kept > 0
        else Decimal(0),
    }
