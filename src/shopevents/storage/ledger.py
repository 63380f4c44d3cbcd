"""The purchase ledger as stored: one `purchases` row per (store, purchaseId), its lines, and
the conflicting records kept for review."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

_COLUMNS = (
    "store_id, purchase_id, contact_id, cart_id, channel, request_id, purchased_at, "
    "date_offset, received_at, total_price, total_quantity, currency, "
    "payment_method, source_type, source_name, fingerprint, data"
)
_INSERT = Insert("purchases", _COLUMNS)
_INSERT_NEW = Insert(
    "purchases", _COLUMNS, tail="ON CONFLICT (store_id, purchase_id) DO NOTHING RETURNING id"
)
_STORED = Statement("SELECT fingerprint, id FROM purchases WHERE store_id = ? AND purchase_id = ?")
_LINE = Insert(
    "purchase_lines",
    ("purchase_row", "store_id", "purchased_at", "product_id", "name", "quantity", "price"),
)
_RECOVERED = Statement("UPDATE purchases SET recovered = 1 WHERE id = ?")
_CONFLICT = Insert(
    "purchase_conflicts",
    ("store_id", "purchase_id", "channel", "request_id", "received_at", "fingerprint", "data"),
)

# A purchase's row as written: the values of `_COLUMNS`, in order.
PurchaseValues = Sequence[Any]


def fingerprints(
    conn: Conn, store_id: str, purchase_ids: Sequence[str]
) -> dict[str, tuple[str, int]]:
    """purchaseId → (fingerprint, row id) of those of `purchase_ids` the ledger holds."""
    rows = conn.rows_by_key("purchases", "purchase_id", "fingerprint, id", store_id, purchase_ids)
    return {r[0]: (r[1], int(r[2])) for r in rows}


def stored(conn: Conn, store_id: str, purchase_id: str) -> tuple[str, int] | None:
    """(fingerprint, row id) of a purchase the ledger holds."""
    row = conn.one(_STORED, (store_id, purchase_id))
    return None if row is None else (row[0], int(row[1]))


def append(conn: Conn, values: PurchaseValues) -> int:
    """Queue a purchase known to be absent; give its row id."""
    return conn.append_id(_INSERT, values)


def insert_new(conn: Conn, values: PurchaseValues) -> int | None:
    """Insert a purchase unless its purchaseId is recorded; give its row id, or None."""
    row = conn.one(_INSERT_NEW, values)
    return None if row is None else int(row[0])


def add_line(
    conn: Conn,
    purchase_row: int,
    store_id: str,
    purchased_at: int,
    product_id: str,
    name: str | None,
    quantity: int,
    price: int,
) -> None:
    """Queue one line of a recorded purchase."""
    conn.append(_LINE, (purchase_row, store_id, purchased_at, product_id, name, quantity, price))


def mark_recovered(conn: Conn, purchase_row: int) -> None:
    """The purchase recovered an abandoned cart."""
    conn.execute(_RECOVERED, (purchase_row,))


def add_conflict(
    conn: Conn,
    store_id: str,
    purchase_id: str,
    channel: str,
    request_id: int | None,
    at: int,
    fingerprint: str,
    data: str,
) -> None:
    """Keep a record that differs from the ledger's, for review."""
    conn.execute(_CONFLICT, (store_id, purchase_id, channel, request_id, at, fingerprint, data))
