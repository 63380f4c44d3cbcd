"""Report facts read from the base tables: sums per 15-minute UTC slot over an id range
(lo < id <= hi) and, optionally, a time range, leaving out the rows of bots' requests that
their store does not keep (docs/privacy.md#bots). `reports.facts` folds them into days.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from shopevents.jsoncodec import loads
from shopevents.storage.database import Conn

SLOT_US = 15 * 60 * 1_000_000
"""The stored sums are grouped by 15-minute UTC slots (`instant_us // SLOT_US`)."""


class Bounds(NamedTuple):
    """The rows facts are read from: lo < id <= hi (no `hi`: up to the last one) and, when
    `start` is given, start <= time < end."""

    lo: int
    hi: int | None = None
    start: int | None = None
    end: int | None = None


class SalesSlot(NamedTuple):
    slot: int
    currency: str
    source_type: str | None
    source_name: str | None
    payment_method: str | None
    recovered: Any
    orders: int
    revenue: int


class ProductSales(NamedTuple):
    """A product's sales in one currency over a time unit: `key` is a 15-minute slot here, a
    local day's ordinal or a month's first day's in `rollups`."""

    key: int
    currency: str
    product_id: str
    name: str
    units: int
    revenue: int
    orders: int


class RefundSlot(NamedTuple):
    slot: int
    currency: str
    source_type: str | None
    source_name: str | None
    payment_method: str | None
    kind: str
    n: int
    amount: int


class CartSlot(NamedTuple):
    slot: int
    to_state: str
    first: int  # 1: the cart's first transition (a new cart)
    n: int


class SlotCount(NamedTuple):
    slot: int
    n: int


class CodeSlot(NamedTuple):
    """Events of one slot by a code: a status, or a warnings list (JSON text)."""

    slot: int
    code: Any
    n: int


class RejectionSlot(NamedTuple):
    slot: int
    code: str
    is_cart: int
    n: int


class ForeignPurchase(NamedTuple):
    slot: int
    source_type: str | None
    source_name: str | None
    payment_method: str | None
    recovered: Any
    total: int


class ForeignAdjustment(NamedTuple):
    slot: int
    purchase_slot: int
    source_type: str | None
    source_name: str | None
    payment_method: str | None
    kind: str
    amount: int
    prior_amount: int  # the purchase's adjustments before this one


def human(request_col: str) -> str:
    """SQL: the row did not come from a bot's request that its store left out of the figures
    (docs/privacy.md#bots). `bot_requests` holds only bots' requests: a primary-key probe in a
    small table. A request's flag never changes, so rollups stay exact."""
    return f"NOT EXISTS (SELECT 1 FROM bot_requests b WHERE b.id = {request_col} AND b.kept = 0)"


def _human_purchase(row_col: str) -> str:
    """SQL: the purchase `row_col` (an adjustment's `purchase_row`) is not a left-out bot's."""
    return (
        "NOT EXISTS (SELECT 1 FROM purchases bp JOIN bot_requests b ON b.id = bp.request_id "
        f"AND b.kept = 0 WHERE bp.id = {row_col})"
    )


# Past a watermark, a unary `+` keeps the SQLite planner on the id range (the primary key, a
# short tail) instead of a (store, time) index over the whole range; PostgreSQL's planner
# needs no hint.
_PIN = {"sqlite": "+", "postgres": ""}


def _where(conn: Conn, alias: str, time_col: str, bounds: Bounds) -> tuple[str, list[Any]]:
    """`store_id = ?` and the id (and time) bounds (with no watermark the planner chooses)."""
    plus = _PIN[conn.dialect] if bounds.lo > 0 else ""
    sql = f"{plus}{alias}store_id = ? AND {alias}id > ?"
    params: list[Any] = [bounds.lo]
    if bounds.hi is not None:
        sql += f" AND {alias}id <= ?"
        params.append(bounds.hi)
    if bounds.start is not None:
        sql += f" AND {plus}{alias}{time_col} >= ? AND {plus}{alias}{time_col} < ?"
        params += [bounds.start, bounds.end]
    return sql, params


_TABLE = {
    "sales": ("purchases", "received_at"),
    "refunds": ("purchase_adjustments", "received_at"),
    "carts": ("cart_transitions", "at"),
    "events": ("events", "received_at"),
    "rejections": ("quarantine", "received_at"),
}


def last_id(conn: Conn, kind: str, after: int, received_by: int) -> int | None:
    """The largest id past `after` of the source table of `kind` among rows received by
    `received_by` (None: none)."""
    table, time_col = _TABLE[kind]
    found = conn.scalar(
        f"SELECT id FROM {table} WHERE id > ? AND {_PIN[conn.dialect]}{time_col} <= ? "
        "ORDER BY id DESC LIMIT 1",
        (after, received_by),
    )
    return None if found is None else int(found)


class _Grouped(NamedTuple):
    """`SELECT slot, columns FROM table` of a store's rows that pass `test` (and are not a
    left-out bot's), grouped by slot and the first `groups` columns; the slot is that of
    `time_col`."""

    table: str
    time_col: str
    columns: str
    test: str
    groups: int


def _by_slot(conn: Conn, store_id: str, bounds: Bounds, query: _Grouped) -> list[Any]:
    where, params = _where(conn, "", query.time_col, bounds)
    by = ", ".join(str(i) for i in range(1, query.groups + 2))
    rows: list[Any] = conn.all(
        f"SELECT {query.time_col} / {SLOT_US}, {query.columns} FROM {query.table} "
        f"WHERE {where} AND {query.test} GROUP BY {by}",
        [store_id, *params],
    )
    return rows


_SALES = _Grouped(
    "purchases",
    "purchased_at",
    "currency, source_type, source_name, payment_method, recovered, COUNT(*), SUM(total_price)",
    human("request_id"),
    5,
)
_REFUNDS = _Grouped(
    "purchase_adjustments",
    "adjusted_at",
    "currency, source_type, source_name, payment_method, kind, COUNT(*), SUM(amount)",
    _human_purchase("purchase_row"),
    5,
)
_CARTS = _Grouped(
    "cart_transitions",
    "at",
    "to_state, CASE WHEN from_state IS NULL THEN 1 ELSE 0 END, COUNT(*)",
    human("request_id"),
    2,
)
_STATUSES = _Grouped("events", "received_at", "status, COUNT(*)", human("request_id"), 1)
_WARNINGS = _Grouped(
    "events",
    "received_at",
    "warnings, COUNT(*)",
    f"warnings IS NOT NULL AND {human('request_id')}",
    1,
)
_REJECTIONS = _Grouped(
    "quarantine",
    "received_at",
    "code, CASE WHEN idx < 0 THEN 1 ELSE 0 END, COUNT(*)",
    human("request_id"),
    2,
)


def sales(conn: Conn, store_id: str, bounds: Bounds) -> list[SalesSlot]:
    return [SalesSlot._make(r) for r in _by_slot(conn, store_id, bounds, _SALES)]


def products(conn: Conn, store_id: str, bounds: Bounds) -> list[ProductSales]:
    where, params = _where(conn, "p.", "purchased_at", bounds)
    return [
        ProductSales._make(r)
        for r in conn.all(
            f"SELECT l.purchased_at / {SLOT_US}, p.currency, l.product_id, MAX(l.name), SUM(l.quantity), "
            "SUM(l.price), COUNT(DISTINCT l.purchase_row) FROM purchases p JOIN purchase_lines l "
            "ON l.store_id = p.store_id AND l.purchased_at = p.purchased_at AND l.purchase_row = p.id "
            f"WHERE {where} AND {human('p.request_id')} GROUP BY 1, 2, 3",
            [store_id, *params],
        )
    ]


def refunds(conn: Conn, store_id: str, bounds: Bounds) -> list[RefundSlot]:
    """Refunds and cancellations, by the slot they were made in."""
    return [RefundSlot._make(r) for r in _by_slot(conn, store_id, bounds, _REFUNDS)]


def foreign_purchases(
    conn: Conn, store_id: str, currency: str, start: int, end: int
) -> list[ForeignPurchase]:
    """The store's purchases in `currency` in the range, one by one."""
    return [
        ForeignPurchase._make(r)
        for r in conn.all(
            f"SELECT purchased_at / {SLOT_US}, source_type, source_name, payment_method, recovered, "
            "total_price FROM purchases WHERE store_id = ? AND currency = ? "
            f"AND purchased_at >= ? AND purchased_at < ? AND {human('request_id')}",
            (store_id, currency, start, end),
        )
    ]


def foreign_adjustments(
    conn: Conn, store_id: str, currency: str, start: int, end: int
) -> list[ForeignAdjustment]:
    """The store's adjustments in `currency` made in the range, one by one, each with the sum
    of its purchase's adjustments before it."""
    return [
        ForeignAdjustment._make(r)
        for r in conn.all(
            f"SELECT adjusted_at / {SLOT_US}, purchased_at / {SLOT_US}, source_type, source_name, "
            "payment_method, kind, amount, prior_amount FROM (SELECT purchase_row, adjusted_at, purchased_at, "
            "source_type, source_name, payment_method, kind, amount, COALESCE(SUM(amount) OVER "
            "(PARTITION BY purchase_row ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND "
            "1 PRECEDING), 0) AS prior_amount FROM purchase_adjustments WHERE store_id = ? "
            "AND currency = ? AND purchase_row IN (SELECT purchase_row FROM "
            "purchase_adjustments WHERE store_id = ? AND currency = ? AND adjusted_at >= ? "
            "AND adjusted_at < ?)) AS a WHERE adjusted_at >= ? AND adjusted_at < ? "
            f"AND {_human_purchase('a.purchase_row')}",
            (store_id, currency, store_id, currency, start, end, start, end),
        )
    ]


def returned_lines(conn: Conn, store_id: str, start: int, end: int) -> list[tuple[str, list[Any]]]:
    """(currency, lines) of every refund by lines made in the range."""
    return [
        (cur, loads(lines) or [])
        for cur, lines in conn.all(
            "SELECT currency, lines FROM purchase_adjustments WHERE store_id = ? "
            "AND adjusted_at >= ? AND adjusted_at < ? AND lines IS NOT NULL "
            f"AND {_human_purchase('purchase_row')}",
            (store_id, start, end),
        )
    ]


def carts(conn: Conn, store_id: str, bounds: Bounds) -> list[CartSlot]:
    return [CartSlot._make(r) for r in _by_slot(conn, store_id, bounds, _CARTS)]


def recovered_by_abandonment(conn: Conn, store_id: str, bounds: Bounds) -> list[SlotCount]:
    """Recoveries among the transitions lo < id <= hi, by the slot their cart was abandoned
    in (within start..end when given)."""
    where, params = _where(conn, "t.", "at", bounds._replace(start=None, end=None))
    sql = (
        "SELECT (SELECT MAX(a.at) FROM cart_transitions a WHERE a.cart_row = t.cart_row "
        "AND a.to_state = 'abandoned' AND a.id < t.id) AS abandoned_at FROM cart_transitions t "
        f"WHERE t.to_state = 'recovered' AND {where}"
    )
    outer = (
        f"SELECT abandoned_at / {SLOT_US}, COUNT(*) FROM ({sql}) r WHERE abandoned_at IS NOT NULL"
    )
    oparams: list[Any] = [store_id, *params]
    if bounds.start is not None:
        outer += " AND abandoned_at >= ? AND abandoned_at < ?"
        oparams += [bounds.start, bounds.end]
    return [SlotCount._make(r) for r in conn.all(outer + " GROUP BY 1", oparams)]


def statuses(conn: Conn, store_id: str, bounds: Bounds) -> list[CodeSlot]:
    """Events by slot and status."""
    return [CodeSlot._make(r) for r in _by_slot(conn, store_id, bounds, _STATUSES)]


def warnings(conn: Conn, store_id: str, bounds: Bounds) -> list[CodeSlot]:
    """Events with warnings by slot and warnings list (JSON text)."""
    return [CodeSlot._make(r) for r in _by_slot(conn, store_id, bounds, _WARNINGS)]


def rejections(conn: Conn, store_id: str, bounds: Bounds) -> list[RejectionSlot]:
    """Quarantined events by slot, code and whether they were a request's cart."""
    return [RejectionSlot._make(r) for r in _by_slot(conn, store_id, bounds, _REJECTIONS)]
