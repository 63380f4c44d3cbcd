"""Segment-compatible ingest: a store with a write key, and what one user's session must
leave behind whichever SDK sent it."""

from __future__ import annotations

import fcntl
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shopevents.clock import SystemClock, to_micros
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import StoreInfo, make_store

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"

LAMP = {
    "product_id": "SKU-42",
    "sku": "LAMP-42",
    "name": "Desk lamp",
    "price": 24.9,
    "url": "https://shop.example/p/sku-42",
    "image_url": "https://shop.example/img/sku-42.jpg",
    "brand": "Lumo",
    "category": "Home/Lighting",
    "currency": "EUR",
}
MUG = {
    "product_id": "MUG-1",
    "name": "Mug",
    "price": 9.99,
    "url": "https://shop.example/p/mug-1",
    "currency": "EUR",
}


def ensure_node_modules() -> None:
    """The npm packages of tests/segment (scripts/setup.sh dev installs them; a fresh
    checkout gets them here). A lock keeps parallel test workers from installing at once."""
    if (NODE_MODULES / "@segment" / "analytics-node").exists():
        return
    with open(HERE / "package.json") as lock:  # held for the install (an advisory lock)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_MODULES / "@segment" / "analytics-node").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                check=True,
                timeout=600,
            )


class SegmentStore(msgspec.Struct):
    store: StoreInfo
    write_key: str


def add_write_key(db: Database, store_id: str) -> str:
    conn = db.connect()
    try:
        with conn.transaction():
            return stores.create_write_key(conn, store_id, now=to_micros(SystemClock().now()))[1]
    finally:
        conn.close()


@pytest.fixture
def seg(db: Database) -> SegmentStore:
    store = make_store(db, domains=["shop.example"])
    return SegmentStore(store, add_write_key(db, store.id))


def session(client: Any, user: str, email: str, order: str) -> None:
    """One user's session through a Python SDK client (segment or rudder): identify, page,
    product viewed, added, added, removed, order completed twice."""
    client.identify(user_id=user, traits={"email": email, "firstName": "Ana", "plan": "gold"})
    client.page(
        user_id=user,
        name="Desk lamp",
        properties={
            "url": "https://shop.example/p/sku-42?utm_source=news",
            "title": "Desk lamp",
            "referrer": "https://search.example/",
        },
    )
    client.track(user_id=user, event="Product Viewed", properties=LAMP)
    client.track(user_id=user, event="Product Added", properties={**LAMP, "quantity": 3})
    client.track(user_id=user, event="Product Added", properties={**MUG, "quantity": 1})
    client.track(user_id=user, event="Product Removed", properties={**MUG, "quantity": 1})
    purchase = {
        "order_id": order,
        "total": 74.7,
        "currency": "EUR",
        "products": [{**LAMP, "quantity": 3}],
    }
    client.track(user_id=user, event="Order Completed", properties=purchase)
    client.track(user_id=user, event="Order Completed", properties=purchase)


def check_session(db: Database, store_id: str, email: str, order: str) -> dict[str, Any]:
    """The purchase stored once with exact money, the cart purchased, the contact's
    aggregates; gives what was read."""
    conn = db.connect()
    try:
        rows = conn.all(
            "SELECT total_price, total_quantity, currency, channel, contact_id FROM purchases "
            "WHERE store_id = ? AND purchase_id = ?",
            (store_id, order),
        )
        assert len(rows) == 1, rows
        total, qty, currency, channel, cid = rows[0]
        assert Decimal(int(total)) / Decimal(10**6) == Decimal("74.7")
        assert (int(qty), currency, channel) == (3, "EUR", "segment")
        contact = conn.one(
            "SELECT id, email, total_purchases, total_amount, fields FROM contacts "
            "WHERE store_id = ? AND email = ?",
            (store_id, email),
        )
        assert contact is not None
        assert contact[0] == cid
        assert int(contact[2]) == 1
        assert Decimal(contact[3]) == Decimal("74.7")
        carts = conn.all(
            "SELECT state, lines FROM carts WHERE store_id = ? AND contact_id = ?",
            (store_id, cid),
        )
        assert [c[0] for c in carts] == ["purchased"], carts
        events = conn.all(
            "SELECT type, status FROM events WHERE store_id = ? AND contact_id = ? ORDER BY id",
            (store_id, cid),
        )
        kinds = [e[0] for e in events]
        assert kinds.count("page-visit") == 1
        assert kinds.count("product-visited") == 1
        assert [e[1] for e in events if e[0] == "purchase"] == ["accepted", "duplicate"]
        return {"contact": contact, "events": events}
    finally:
        conn.close()


def count_requests(db: Database, store_id: str) -> int:
    conn = db.connect()
    try:
        return int(
            conn.scalar(
                "SELECT COUNT(*) FROM requests WHERE store_id = ? AND channel = 'segment'",
                (store_id,),
            )
        )
    finally:
        conn.close()
