"""The contact's activity timeline, with Connectif's activity names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shopevents.jsoncodec import dumps
from shopevents.storage import timeline as stored
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

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
    "purchase-refunded",
    "purchase-cancelled",
    "custom-event",
    "web-form-submitted",
    "web-content-opened",
    "web-modal-opened",
    "web-modal-closed",
    "entity-created",
    "entity-identified",
    "entity-merged",
)

# One row holds the activities of one contact at one instant (what one request, or one
# worker step, did to that contact), as a JSON array of [type, eventId, data] items: a page
# visit with a three-line cart is one row, not five. An activity's id is the row's id times
# ITEMS_PER_ROW plus its position in the row, so ids still grow with time.
ITEMS_PER_ROW = 1024

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
    "web-content-opened": "web-content-opened",
    "modal-opened": "web-modal-opened",
    "modal-closed": "web-modal-closed",
}


Item = tuple[str, int | None, Any]  # type, event id, data


def add(
    conn: Conn,
    store_id: str,
    contact_id: str,
    at: int,
    kind: str,
    data: dict[str, Any],
    event_id: int | None = None,
) -> None:
    """One activity; in a transaction it joins the contact's row for that instant."""
    add_many(conn, store_id, contact_id, at, [(kind, event_id, data)])


@dataclass
class _Pending:
    """The transaction's memo: activities by (store, contact, instant), written just before
    COMMIT (or before a statement that names `activities`)."""

    items: dict[tuple[str, str, int], list[Item]] = field(default_factory=dict)


def add_many(conn: Conn, store_id: str, contact_id: str, at: int, items: Sequence[Item]) -> None:
    """Activities of one contact at one instant, in the order they happened."""
    if not items:
        return
    if not conn.in_tx:
        _write(conn, {(store_id, contact_id, at): list(items)})
        return
    pending = conn.memo_if_any(_Pending)
    if pending is None:
        pending = conn.memo(_Pending)
        conn.defer("activities", _compose)
    pending.items.setdefault((store_id, contact_id, at), []).extend(items)


def _compose(conn: Conn) -> None:
    pending = conn.forget_memo(_Pending)
    if pending is not None and pending.items:
        _write(conn, pending.items)


def _write(conn: Conn, pending: dict[tuple[str, str, int], list[Item]]) -> None:
    for (store_id, contact_id, at), chunk in row_items(pending):
        stored.append(conn, store_id, contact_id, at, dumps(chunk))


def row_items(
    pending: dict[tuple[str, str, int], list[Item]],
) -> list[tuple[tuple[str, str, int], list[Item]]]:
    """The rows that hold these activities: one per (store, contact, instant), split every
    `ITEMS_PER_ROW` items."""
    return [
        (key, items[start : start + ITEMS_PER_ROW])
        for key, items in pending.items()
        for start in range(0, len(items), ITEMS_PER_ROW)
    ]


def expand(row_id: int, items: list[Any]) -> list[tuple[int, str, int | None, Any]]:
    """A stored row's activities, newest first: (id, type, event id, data)."""
    base = int(row_id) * ITEMS_PER_ROW
    return [
        (base + pos, item[0], item[1], item[2]) for pos, item in reversed(list(enumerate(items)))
    ]


def parse_cursor(text: str) -> tuple[int, int] | None:
    """The (at, id) of a cursor from a previous page ("at-id"), or None if the text is not
    one (both parts are decimal integers that fit the database's 64 bits)."""
    at, sep, ident = text.partition("-")
    if not sep or not all(p.isascii() and p.isdigit() for p in (at, ident)):
        return None
    value = (int(at), int(ident))
    return value if max(value) < 2**63 else None


def page(
    conn: Conn,
    store_id: str,
    contact_id: str,
    limit: int = 50,
    before: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """The contact's timeline, newest first, at most `limit` activities; `before` = (at, id)
    of the last activity seen."""
    # The row holding `before` may still hold older activities; every row holds at least
    # one activity, and only the first may hold none left.
    row_before = None if before is None else (before[0], before[1] // ITEMS_PER_ROW)
    return activities(stored.rows(conn, store_id, contact_id, limit + 1, row_before), limit, before)


def activities(
    rows: list[stored.ActivityRow], limit: int, before: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """The activities of stored rows (newest first), at most `limit`, those before `before`
    = (at, id) only."""
    out: list[dict[str, Any]] = []
    for row in rows:
        for item_id, kind, event_id, data in expand(row.id, row.items):
            if before is not None and (row.at, item_id) >= before:
                continue
            out.append(
                {
                    "id": item_id,
                    "type": kind,
                    "date": iso(row.at),
                    "_at": row.at,
                    "eventId": event_id,
                    "data": data,
                }
            )
            if len(out) == limit:
                return out
    return out
