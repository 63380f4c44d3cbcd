"""Report rollups in storage (migration 0200): per store and kind a watermark (the last id
summed, and the time zone of the days), and the sums up to it by local day, month or
15-minute slot. Adding to a rollup adds to the row of its key. What is summed, and when, is
decided in `reports.rollups`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from shopevents.storage.database import Conn
from shopevents.storage.report_facts import ProductSales


class Watermark(NamedTuple):
    kind: str
    timezone: str
    last_id: int


class SalesDay(NamedTuple):
    day: int
    currency: str
    source_type: str
    source_name: str
    payment_method: str
    orders: int
    revenue: int
    recovered_orders: int
    recovered_revenue: int


class RefundDay(NamedTuple):
    day: int
    currency: str
    source_type: str
    source_name: str
    payment_method: str
    kind: str
    n: int
    amount: int


class CartDay(NamedTuple):
    day: int
    measure: str
    n: int


class QualityCount(NamedTuple):
    """Events of a slot or a day by kind (status, warning, rejected, rejected_cart) and code."""

    key: int
    kind: str
    code: str
    n: int


# --- watermarks -------------------------------------------------------------------------------


def watermarks(conn: Conn, store_id: str) -> list[Watermark]:
    return [
        Watermark(kind, tz, int(last_id))
        for kind, tz, last_id in conn.all(
            "SELECT kind, timezone, last_id FROM report_watermarks WHERE store_id = ?",
            (store_id,),
        )
    ]


def watermark(conn: Conn, store_id: str, kind: str) -> Watermark | None:
    row = conn.one(
        "SELECT timezone, last_id FROM report_watermarks WHERE store_id = ? AND kind = ?",
        (store_id, kind),
    )
    return None if row is None else Watermark(kind, row[0], int(row[1]))


def drop_other_zone(conn: Conn, store_id: str, kind: str, tz_name: str) -> bool:
    """Drop the watermark of `kind` if it is in another time zone than `tz_name`; whether
    one was dropped."""
    return bool(
        conn.execute(
            "DELETE FROM report_watermarks WHERE store_id = ? AND kind = ? AND timezone <> ?",
            (store_id, kind, tz_name),
        ).rowcount
    )


def start(conn: Conn, store_id: str, kind: str, tz_name: str, last_id: int, now: int) -> bool:
    """The first watermark of `kind`; False if one is there already."""
    return (
        conn.one(
            "INSERT INTO report_watermarks (store_id, kind, timezone, last_id, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id, kind) DO NOTHING RETURNING last_id",
            (store_id, kind, tz_name, last_id, now),
        )
        is not None
    )


def move(conn: Conn, store_id: str, kind: str, tz_name: str, lo: int, hi: int, now: int) -> bool:
    """Move the watermark of `kind` from `lo` to `hi` (compare-and-set); False if it was not
    at `lo` in `tz_name`."""
    moved = conn.execute(
        "UPDATE report_watermarks SET last_id = ?, updated_at = ? "
        "WHERE store_id = ? AND kind = ? AND last_id = ? AND timezone = ?",
        (hi, now, store_id, kind, lo, tz_name),
    ).rowcount
    return bool(moved == 1)


_RESET = {
    "sales": (
        "DELETE FROM report_sales_days WHERE store_id = ?",
        "DELETE FROM report_product_days WHERE store_id = ?",
        "DELETE FROM report_product_months WHERE store_id = ?",
    ),
    "carts": ("DELETE FROM report_cart_days WHERE store_id = ?",),
    "refunds": ("DELETE FROM report_refund_days WHERE store_id = ?",),
    "events": (
        "DELETE FROM report_quality_slots WHERE store_id = ? AND kind IN ('status', 'warning')",
        "DELETE FROM report_quality_days WHERE store_id = ? AND kind IN ('status', 'warning')",
    ),
    "rejections": (
        "DELETE FROM report_quality_slots WHERE store_id = ? AND kind LIKE 'rejected%'",
        "DELETE FROM report_quality_days WHERE store_id = ? AND kind LIKE 'rejected%'",
    ),
}


def reset(conn: Conn, store_id: str, kind: str) -> None:
    """Forget the sums of `kind` (its watermark is dropped apart)."""
    for sql in _RESET[kind]:
        conn.execute(sql, (store_id,))


def drop(conn: Conn, store_id: str) -> None:
    """Forget every rollup of a store."""
    for table in (
        "report_sales_days",
        "report_refund_days",
        "report_product_days",
        "report_product_months",
        "report_quality_days",
        "report_cart_days",
        "report_quality_slots",
        "report_watermarks",
    ):
        conn.execute(f"DELETE FROM {table} WHERE store_id = ?", (store_id,))


# --- reading ----------------------------------------------------------------------------------


def sales_days(conn: Conn, store_id: str, first_day: int, last_day: int) -> list[SalesDay]:
    return [
        SalesDay._make(r)
        for r in conn.all(
            "SELECT day, currency, source_type, source_name, payment_method, orders, revenue, "
            "recovered_orders, recovered_revenue FROM report_sales_days "
            "WHERE store_id = ? AND day >= ? AND day <= ?",
            (store_id, first_day, last_day),
        )
    ]


def product_months(
    conn: Conn, store_id: str, first_month: int, last_month: int
) -> list[ProductSales]:
    """Product sales of the months whose first days are first_month..last_month."""
    return [
        ProductSales._make(r)
        for r in conn.all(
            "SELECT month, currency, product_id, name, units, revenue, orders FROM report_product_months "
            "WHERE store_id = ? AND month >= ? AND month <= ?",
            (store_id, first_month, last_month),
        )
    ]


def product_days(conn: Conn, store_id: str, first_day: int, last_day: int) -> list[ProductSales]:
    return [
        ProductSales._make(r)
        for r in conn.all(
            "SELECT day, currency, product_id, name, units, revenue, orders FROM report_product_days "
            "WHERE store_id = ? AND day >= ? AND day <= ?",
            (store_id, first_day, last_day),
        )
    ]


def refund_days(conn: Conn, store_id: str, first_day: int, last_day: int) -> list[RefundDay]:
    return [
        RefundDay._make(r)
        for r in conn.all(
            "SELECT day, currency, source_type, source_name, payment_method, kind, n, amount "
            "FROM report_refund_days WHERE store_id = ? AND day >= ? AND day <= ?",
            (store_id, first_day, last_day),
        )
    ]


def cart_days(conn: Conn, store_id: str, first_day: int, last_day: int) -> list[CartDay]:
    return [
        CartDay._make(r)
        for r in conn.all(
            "SELECT day, measure, n FROM report_cart_days WHERE store_id = ? AND day >= ? AND day <= ?",
            (store_id, first_day, last_day),
        )
    ]


def quality_slots(conn: Conn, store_id: str, first_slot: int, end_slot: int) -> list[QualityCount]:
    """Quality counts of slots first_slot <= slot < end_slot."""
    return [
        QualityCount._make(r)
        for r in conn.all(
            "SELECT slot, kind, code, n FROM report_quality_slots "
            "WHERE store_id = ? AND slot >= ? AND slot < ?",
            (store_id, first_slot, end_slot),
        )
    ]


def quality_days(conn: Conn, store_id: str, first_day: int, last_day: int) -> list[QualityCount]:
    return [
        QualityCount._make(r)
        for r in conn.all(
            "SELECT day, kind, code, n FROM report_quality_days "
            "WHERE store_id = ? AND day >= ? AND day <= ?",
            (store_id, first_day, last_day),
        )
    ]


# --- adding -----------------------------------------------------------------------------------


def add_sales_days(conn: Conn, store_id: str, rows: Sequence[Sequence[Any]]) -> None:
    """Add (day, currency, source_type, source_name, payment_method, orders, revenue,
    recovered_orders, recovered_revenue) rows."""
    conn.executemany(
        "INSERT INTO report_sales_days (store_id, day, currency, source_type, source_name, payment_method, "
        "orders, revenue, recovered_orders, recovered_revenue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (store_id, day, currency, source_type, source_name, payment_method) DO UPDATE SET "
        "orders = report_sales_days.orders + excluded.orders, "
        "revenue = report_sales_days.revenue + excluded.revenue, "
        "recovered_orders = report_sales_days.recovered_orders + excluded.recovered_orders, "
        "recovered_revenue = report_sales_days.recovered_revenue + excluded.recovered_revenue",
        [(store_id, *r) for r in rows],
    )


def add_product_days(conn: Conn, store_id: str, rows: Sequence[ProductSales]) -> None:
    conn.executemany(
        "INSERT INTO report_product_days (store_id, day, currency, product_id, name, units, revenue, orders) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, day, currency, product_id) DO UPDATE SET "
        "name = excluded.name, units = report_product_days.units + excluded.units, "
        "revenue = report_product_days.revenue + excluded.revenue, "
        "orders = report_product_days.orders + excluded.orders",
        [(store_id, *r) for r in rows],
    )


def add_product_months(conn: Conn, store_id: str, rows: Sequence[ProductSales]) -> None:
    """Add product sales of months (`day`: the month's first day)."""
    conn.executemany(
        "INSERT INTO report_product_months (store_id, month, currency, product_id, name, units, revenue, orders) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store_id, month, currency, product_id) DO UPDATE SET "
        "name = excluded.name, units = report_product_months.units + excluded.units, "
        "revenue = report_product_months.revenue + excluded.revenue, "
        "orders = report_product_months.orders + excluded.orders",
        [(store_id, *r) for r in rows],
    )


def add_refund_days(conn: Conn, store_id: str, rows: Sequence[Sequence[Any]]) -> None:
    """Add (day, currency, source_type, source_name, payment_method, kind, n, amount) rows."""
    conn.executemany(
        "INSERT INTO report_refund_days (store_id, day, currency, source_type, source_name, "
        "payment_method, kind, n, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (store_id, day, currency, source_type, source_name, payment_method, kind) "
        "DO UPDATE SET n = report_refund_days.n + excluded.n, "
        "amount = report_refund_days.amount + excluded.amount",
        [(store_id, *r) for r in rows],
    )


def add_cart_days(conn: Conn, store_id: str, rows: Sequence[CartDay]) -> None:
    conn.executemany(
        "INSERT INTO report_cart_days (store_id, day, measure, n) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (store_id, day, measure) DO UPDATE SET n = report_cart_days.n + excluded.n",
        [(store_id, *r) for r in rows],
    )


def add_quality_slots(conn: Conn, store_id: str, rows: Sequence[QualityCount]) -> None:
    conn.executemany(
        "INSERT INTO report_quality_slots (store_id, slot, kind, code, n) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (store_id, slot, kind, code) DO UPDATE SET n = report_quality_slots.n + excluded.n",
        [(store_id, *r) for r in rows],
    )


def add_quality_days(conn: Conn, store_id: str, rows: Sequence[QualityCount]) -> None:
    conn.executemany(
        "INSERT INTO report_quality_days (store_id, day, kind, code, n) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (store_id, day, kind, code) DO UPDATE SET n = report_quality_days.n + excluded.n",
        [(store_id, *r) for r in rows],
    )
