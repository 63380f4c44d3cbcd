"""The store's catalog: every product seen is upserted, newest data wins."""

from __future__ import annotations

from typing import Any

from shopevents.schema import models as m
from shopevents.storage.codec import dumps, money_to_db, plain
from shopevents.storage.database import Conn

_LINE_ONLY = ("quantity", "price")

_UPSERT = (
    "INSERT INTO products (store_id, product_id, name, unit_price, availability, data, first_seen, last_seen, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (store_id, product_id) DO UPDATE SET name = excluded.name, unit_price = excluded.unit_price, "
    "availability = excluded.availability, data = excluded.data, last_seen = excluded.last_seen, "
    "updated_at = excluded.updated_at"
)


def product_data(p: m.Product) -> dict[str, Any]:
    data = plain(p)
    for key in _LINE_ONLY:
        data.pop(key, None)
    return data


def upsert(conn: Conn, store_id: str, products: list[m.Product], now: int) -> None:
    rows = []
    seen: set[str] = set()
    for p in reversed(products):  # the last occurrence in a request is the newest
        if p.productId in seen:
            continue
        seen.add(p.productId)
        rows.append(
            (
                store_id,
                p.productId,
                p.name,
                money_to_db(p.unitPrice),
                p.availability,
                dumps(product_data(p)),
                now,
                now,
                now,
            )
        )
    conn.executemany(_UPSERT, rows)


def upsert_from_api(
    conn: Conn, store_id: str, product_id: str, data: dict[str, Any], now: int
) -> None:
    conn.execute(
        _UPSERT,
        (
            store_id,
            product_id,
            data["name"],
            money_to_db(data["unitPrice"]),
            data.get("availability") or "instock",
            dumps({"productId": product_id, **data}),
            now,
            now,
            now,
        ),
    )
