"""The catalog as stored: one `products` row per (store, productId), the newest data wins."""

from __future__ import annotations

from typing import NamedTuple

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert

_UPSERT = Insert(
    "products",
    (
        "store_id",
        "product_id",
        "name",
        "unit_price",
        "availability",
        "data",
        "first_seen",
        "last_seen",
        "updated_at",
    ),
    tail="ON CONFLICT (store_id, product_id) DO UPDATE SET name = excluded.name, "
    "unit_price = excluded.unit_price, availability = excluded.availability, "
    "data = excluded.data, last_seen = excluded.last_seen, updated_at = excluded.updated_at",
)


class ProductWrite(NamedTuple):
    """A product as seen at `at` (`data` as stored JSON)."""

    store_id: str
    product_id: str
    name: str | None
    unit_price: int | None
    availability: str | None
    data: str
    at: int


def upsert(conn: Conn, products: list[ProductWrite]) -> None:
    """Insert or update these products (first seen is kept)."""
    conn.executemany(_UPSERT, [(*p[:6], p.at, p.at, p.at) for p in products])
