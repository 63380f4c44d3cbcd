"""The contact's activity timeline, with Connectif's activity names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shopevents.storage.codec import dumps
from shopevents.storage.database import Conn

ACTIVITY_NAMES = (
    "web-page-visited",
    "product-visited",
    "product-searched",
    "search",
    "login",
    "register",
    "newsletter-subscribe",
    "cart-product-added",
    "cart-product-removed",
    "cart-abandoned",
    "cart-recovered",
    "purchase",
    "custom-event",
    "web-form-submitted",
    "entity-created",
    "entity-identified",
    "entity-merged",
)

_INSERT = "INSERT INTO activities (store_id, contact_id, at, type, event_id, data) VALUES (?, ?, ?, ?, ?, ?)"

EVENT_ACTIVITY = {
    "page-visit": "web-page-visited",
    "product-visited": "product-visited",
    "product-searched": "product-searched",
    "search": "search",
    "login": "login",
    "register": "register",
    "newsletter-subscribe": "newsletter-subscribe",
    "purchase": "purchase",
    "custom": "custom-event",
    "form-submitted": "web-form-submitted",
}


def add(
    conn: Conn,
    store_id: str,
    contact_id: str,
    at: int,
    kind: str,
    data: dict[str, Any],
    event_id: int | None = None,
) -> None:
    conn.append(_INSERT, (store_id, contact_id, at, kind, event_id, dumps(data)))


def add_many(conn: Conn, rows: Sequence[tuple[str, str, int, str, int | None, str]]) -> None:
    for row in rows:
        conn.append(_INSERT, row)
