"""Export rows (events, purchases, contacts) a page at a time, in id order: the rows of
`shopevents export` and of `GET /api/exports/{what}`, the same records and the same CSV
columns. Keyset pages (`id > cursor`): a page never repeats or skips a row that existed when
the export started, whatever is inserted meanwhile."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.codec import money_from_db
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

WHAT = ("events", "purchases", "contacts")
PAGE = 2000

_TIME_COL = {"events": "received_at", "purchases": "purchased_at", "contacts": "created_at"}
_COLS = {
    "events": "id, request_id, idx, type, status, received_at, contact_id, warnings, data",
    "purchases": (
        "id, purchase_id, purchased_at, date_offset, received_at, contact_id, cart_id, channel, total_price, "
        "total_quantity, currency, payment_method, source_type, source_name, recovered, data"
    ),
    "contacts": (
        "id, email, fields, created_at, updated_at, merged_into, total_purchases, total_amount, "
        "first_purchase_at, last_purchase_at"
    ),
}
HEADS = {
    "events": ["id", "request_id", "index", "type", "status", "received_at", "contact_id", "warnings", "data"],
    "purchases": [
        "id", "purchase_id", "purchase_date", "received_at", "contact_id", "cart_id", "channel",
        "total_price", "total_quantity", "currency", "payment_method", "source_type",
        "source_name", "recovered", "products",
    ],
    "contacts": [
        "id", "email", "created_at", "updated_at", "merged_into", "total_purchases",
        "total_amount", "first_purchase_at", "last_purchase_at", "fields",
    ],
}  # fmt: skip


def first_cursor(what: str) -> Any:
    """The cursor before the first row (event and purchase ids are numbers, contact ids text)."""
    return "" if what == "contacts" else 0


def parse_cursor(what: str, text: str | None) -> Any:
    """A cursor from a previous page (None: not one)."""
    if text is None or text == "":
        return first_cursor(what)
    if what == "contacts":
        return text if len(text) <= 64 and "\x00" not in text else None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def page(
    conn: Conn,
    what: str,
    store_id: str,
    after: Any,
    bounds: tuple[int, int] | None,
    limit: int = PAGE,
) -> list[Any]:
    """Up to `limit` raw rows after the cursor `after`, in id order."""
    plus = "+" if conn.dialect == "sqlite" else ""
    time_col = _TIME_COL[what]
    time_sql = f" AND {plus}{time_col} >= ? AND {plus}{time_col} < ?" if bounds else ""
    extra: list[Any] = [bounds[0], bounds[1]] if bounds else []
    sql = (
        f"SELECT {_COLS[what]} FROM {what} WHERE {plus}store_id = ? AND id > ?{time_sql} "
        f"ORDER BY id LIMIT {int(limit)}"
    )
    return conn.all(sql, [store_id, after, *extra])


def count(conn: Conn, what: str, store_id: str, bounds: tuple[int, int] | None) -> int:
    plus = "+" if conn.dialect == "sqlite" else ""
    time_col = _TIME_COL[what]
    time_sql = f" AND {plus}{time_col} >= ? AND {plus}{time_col} < ?" if bounds else ""
    extra: list[Any] = [bounds[0], bounds[1]] if bounds else []
    return int(
        conn.scalar(
            f"SELECT COUNT(*) FROM {what} WHERE {plus}store_id = ?{time_sql}", [store_id, *extra]
        )
        or 0
    )


def record(what: str, r: Any) -> dict[str, Any]:
    """One exported row as a JSON object."""
    if what == "events":
        return {
            "id": int(r[0]),
            "requestId": int(r[1]),
            "index": int(r[2]),
            "type": r[3],
            "status": r[4],
            "receivedAt": iso(r[5]),
            "contactId": r[6],
            "warnings": loads(r[7]) or [],
            "data": loads(r[8]),
        }
    if what == "purchases":
        data = loads(r[15]) or {}
        return {
            "id": int(r[0]),
            "purchaseId": r[1],
            "purchaseDate": iso(r[2]),
            "receivedAt": iso(r[4]),
            "contactId": r[5],
            "cartId": r[6],
            "channel": r[7],
            "totalPrice": money_from_db(int(r[8])),
            "totalQuantity": int(r[9]),
            "currency": r[10],
            "paymentMethod": r[11],
            "source_type": r[12],
            "source_name": r[13],
            "recovered": bool(r[14]),
            "products": data.get("products", []),
        }
    return {
        "id": r[0],
        "email": r[1],
        "createdAt": iso(r[3]),
        "updatedAt": iso(r[4]),
        "mergedInto": r[5],
        "totalPurchases": int(r[6]),
        "totalAmount": Decimal(str(r[7] or "0")),
        "firstPurchaseDate": iso(r[8]),
        "lastPurchaseDate": iso(r[9]),
        "fields": loads(r[2]) or {},
    }


def flat(rec: dict[str, Any]) -> list[Any]:
    """A record's CSV cells: objects and lists as JSON, null as empty."""
    return [
        dumps(v) if isinstance(v, dict | list) else ("" if v is None else v) for v in rec.values()
    ]


def csv_line(cells: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def lines(what: str, fmt: str, rows: list[Any]) -> Iterator[str]:
    """The text of a page of raw rows, a line each."""
    for r in rows:
        rec = record(what, r)
        yield csv_line(flat(rec)) if fmt == "csv" else dumps(rec) + "\n"
