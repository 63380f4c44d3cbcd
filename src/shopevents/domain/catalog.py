"""The store's catalog: every product seen is upserted, newest data wins."""

from __future__ import annotations

from typing import Any

from shopevents.jsoncodec import dumps, plain
from shopevents.schema import models as m
from shopevents.storage import catalog as stored
from shopevents.storage.catalog import ProductWrite
from shopevents.storage.codec import money_to_db
from shopevents.storage.database import Conn

_LINE_ONLY = ("quantity", "price")


def product_data(p: m.Product) -> dict[str, Any]:
    data = plain(p)
    for key in _LINE_ONLY:
        data.pop(key, None)
    return data


class RecentWrites:
    """Products written lately, so an unchanged product seen again within `window_us` is not
    rewritten (its `lastSeen` is then at most that much behind). Forgotten on any rollback.

    Each entry keeps the stored data and the model it came from: a model equal to the last
    one written is known unchanged without encoding it again."""

    def __init__(self, window_us: int = 60_000_000, size: int = 50_000) -> None:
        self.window_us = window_us
        self.size = size
        self.rows: dict[tuple[str, str], tuple[str, int, m.Product]] = {}

    def same(self, key: tuple[str, str], product: m.Product, now: int) -> bool:
        """The product was written lately from an equal model."""
        hit = self.rows.get(key)
        return hit is not None and now - hit[1] < self.window_us and hit[2] == product

    def fresh(self, key: tuple[str, str], data: str, now: int) -> bool:
        """The product was written lately with this data."""
        hit = self.rows.get(key)
        return hit is not None and hit[0] == data and now - hit[1] < self.window_us

    def mark(self, key: tuple[str, str], data: str, now: int, product: m.Product) -> None:
        if len(self.rows) >= self.size:
            self.rows.clear()
        self.rows[key] = (data, now, product)

    def forget(self) -> None:
        self.rows.clear()


def upsert(
    conn: Conn,
    store_id: str,
    products: list[m.Product],
    now: int,
    recent: RecentWrites | None = None,
) -> None:
    stored.upsert(conn, writes(store_id, products, now, recent))


def writes(
    store_id: str, products: list[m.Product], now: int, recent: RecentWrites | None = None
) -> list[ProductWrite]:
    """The catalog rows a request's products write: the last occurrence of each product
    (the newest), unless `recent` knows it written lately with the same data."""
    out = []
    seen: set[str] = set()
    for p in reversed(products):  # the last occurrence in a request is the newest
        if p.productId in seen:
            continue
        seen.add(p.productId)
        key = (store_id, p.productId)
        if recent is not None and recent.same(key, p, now):
            continue
        data = dumps(product_data(p))
        if recent is not None:
            if recent.fresh(key, data, now):
                continue
            recent.mark(key, data, now, p)
        out.append(
            ProductWrite(
                store_id, p.productId, p.name, money_to_db(p.unitPrice), p.availability, data, now
            )
        )
    return out


def upsert_from_api(
    conn: Conn, store_id: str, product_id: str, data: dict[str, Any], now: int
) -> None:
    write = ProductWrite(
        store_id,
        product_id,
        data["name"],
        money_to_db(data["unitPrice"]),
        data.get("availability") or "instock",
        dumps({"productId": product_id, **data}),
        now,
    )
    stored.upsert(conn, [write])
