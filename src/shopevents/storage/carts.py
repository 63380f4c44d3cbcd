"""Carts as stored: one row per cart of a contact (a cart id started again after a purchase
is a new row), their state transitions, and the abandonment deadline index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from shopevents.jsoncodec import loads
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement, pg_text


class CartRow(msgspec.Struct, kw_only=True):
    """A cart as the rules see it: its row id, owner, id, state and lines."""

    id: int
    contact_id: str
    cart_id: str
    state: str
    lines: list[dict[str, Any]]
    closed_lines: list[dict[str, Any]] | None


class NewCart(msgspec.Struct, kw_only=True):
    """A cart row to insert (`lines` and `closed_lines` as stored JSON)."""

    store_id: str
    contact_id: str
    cart_id: str
    state: str
    lines: str
    total_price: int
    total_quantity: int
    currency: str
    recovery_url: str | None
    at: int
    abandon_at: int | None
    purchase_id: str | None = None
    purchase_link: str | None = None
    closed_lines: str | None = None


class AbandonedCart(msgspec.Struct, kw_only=True):
    """A cart the abandonment step has just marked abandoned."""

    id: int
    store_id: str
    contact_id: str
    cart_id: str
    total_price: int
    lines: list[dict[str, Any]]
    recovery_url: str | None
    currency: str


_COLUMNS = "id, contact_id, cart_id, state, lines, closed_lines"
# PostgreSQL: one index look-up per contact, whatever the statistics.
_LATEST_OF_CONTACTS_PG = Statement(
    "",
    "SELECT x.id, x.contact_id, x.cart_id, x.state, x.lines, x.closed_lines "
    "FROM unnest(%s::text[]) AS k(v) CROSS JOIN LATERAL ("
    f"SELECT DISTINCT ON (cart_id) {_COLUMNS} "
    "FROM carts WHERE store_id = %s AND contact_id = k.v ORDER BY cart_id, id DESC) x",
)
_LATEST = Statement(
    f"SELECT {_COLUMNS} FROM carts WHERE store_id = ? AND contact_id = ? AND cart_id = ? "
    "ORDER BY id DESC LIMIT 1"
)
_OPEN_OF_CONTACT = Statement(
    f"SELECT {_COLUMNS} FROM carts WHERE store_id = ? AND contact_id = ? "
    "AND state IN ('active', 'abandoned') ORDER BY updated_at DESC, id DESC LIMIT ?"
)
_INSERT = Insert(
    "carts",
    "store_id, contact_id, cart_id, state, lines, total_price, total_quantity, currency, "
    "recovery_url, created_at, updated_at, abandon_at, purchase_id, purchase_link, closed_lines",
)
_UPDATE_LINES = Statement(
    "UPDATE carts SET state = ?, lines = ?, total_price = ?, total_quantity = ?, "
    "recovery_url = COALESCE(?, recovery_url), updated_at = ?, abandon_at = ? WHERE id = ?"
)
_CLOSE = Statement(
    "UPDATE carts SET state = ?, abandon_at = NULL, updated_at = ?, purchase_id = ?, "
    "purchase_link = ?, closed_lines = ? WHERE id = ?"
)
_TRANSITION = Insert(
    "cart_transitions",
    ("cart_row", "store_id", "at", "from_state", "to_state", "reason", "request_id"),
)
_NEVER_ABANDON = Statement(
    "UPDATE carts SET abandon_at = NULL WHERE store_id = ? AND contact_id = ? AND cart_id = ? "
    "AND abandon_at IS NOT NULL"
)
_DUE_TEXT = (
    "SELECT id FROM carts WHERE state = 'active' AND abandon_at <= ? ORDER BY abandon_at LIMIT ?"
)
_DUE = Statement(_DUE_TEXT, pg_text(_DUE_TEXT) + " FOR UPDATE SKIP LOCKED")
_ABANDON = Statement(
    "UPDATE carts SET state = 'abandoned', abandon_at = NULL, updated_at = ? "
    "WHERE id = ? AND state = 'active' AND abandon_at <= ? "
    "RETURNING store_id, contact_id, cart_id, total_price, lines, recovery_url, currency"
)


def _row(r: Any) -> CartRow:
    return CartRow(
        id=r[0],
        contact_id=r[1],
        cart_id=r[2],
        state=r[3],
        lines=loads(r[4]),
        closed_lines=loads(r[5]),
    )


def latest_of_contacts(conn: Conn, store_id: str, contact_ids: Sequence[str]) -> list[CartRow]:
    """The latest row of every cart of these contacts, in one statement."""
    if conn.dialect == "postgres":
        rows = conn.all(_LATEST_OF_CONTACTS_PG, (list(contact_ids), store_id))
    else:
        test, params = conn.any_of(contact_ids)
        rows = conn.all(
            f"SELECT {_COLUMNS} FROM carts WHERE id IN (SELECT MAX(id) FROM carts "
            f"WHERE store_id = ? AND contact_id {test} GROUP BY contact_id, cart_id)",
            (store_id, *params),
        )
    return [_row(r) for r in rows]


def latest(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> CartRow | None:
    """The latest row of one cart of a contact."""
    r = conn.one(_LATEST, (store_id, contact_id, cart_id))
    return None if r is None else _row(r)


def open_of_contact(conn: Conn, store_id: str, contact_id: str, limit: int) -> list[CartRow]:
    """A contact's active and abandoned carts, the most recently changed first."""
    return [_row(r) for r in conn.all(_OPEN_OF_CONTACT, (store_id, contact_id, limit))]


def insert(conn: Conn, cart: NewCart) -> int:
    """Queue a new cart row; give its id."""
    return conn.append_id(
        _INSERT,
        (
            cart.store_id,
            cart.contact_id,
            cart.cart_id,
            cart.state,
            cart.lines,
            cart.total_price,
            cart.total_quantity,
            cart.currency,
            cart.recovery_url,
            cart.at,
            cart.at,
            cart.abandon_at,
            cart.purchase_id,
            cart.purchase_link,
            cart.closed_lines,
        ),
    )


def update_lines(
    conn: Conn,
    row_id: int,
    *,
    state: str,
    lines: str,
    total_price: int,
    total_quantity: int,
    recovery_url: str | None,
    at: int,
    abandon_at: int | None,
) -> None:
    """A new snapshot of a cart (a recovery URL is kept unless a new one is given)."""
    conn.execute(
        _UPDATE_LINES,
        (state, lines, total_price, total_quantity, recovery_url, at, abandon_at, row_id),
    )


def close(
    conn: Conn, row_id: int, *, state: str, at: int, purchase_id: str, link: str, lines: str
) -> None:
    """A cart closed by a purchase (purchased or recovered), with the lines it closed on."""
    conn.execute(_CLOSE, (state, at, purchase_id, link, lines, row_id))


def transition(
    conn: Conn,
    store_id: str,
    cart_row: int,
    at: int,
    old: str | None,
    new: str,
    reason: str,
    request_id: int | None,
) -> None:
    """Queue the record of a cart's change of state."""
    conn.append(_TRANSITION, (cart_row, store_id, at, old, new, reason, request_id))


def never_abandon(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> None:
    """Drop a cart's abandonment deadline."""
    conn.execute(_NEVER_ABANDON, (store_id, contact_id, cart_id))


def due(conn: Conn, now: int, limit: int) -> list[int]:
    """Active carts whose abandonment deadline has passed, the earliest first (on PostgreSQL
    locked for this transaction, skipping those another worker holds)."""
    return [int(r[0]) for r in conn.all(_DUE, (now, limit))]


def abandon(conn: Conn, cart_row: int, now: int) -> AbandonedCart | None:
    """Mark a due cart abandoned if it still is active and due (compare-and-set)."""
    got = conn.one(_ABANDON, (now, cart_row, now))
    if got is None:
        return None
    store_id, contact_id, cart_id, total, lines, recovery, currency = got
    return AbandonedCart(
        id=cart_row,
        store_id=store_id,
        contact_id=contact_id,
        cart_id=cart_id,
        total_price=total,
        lines=loads(lines),
        recovery_url=recovery,
        currency=currency,
    )


class CartLines(msgspec.Struct, kw_only=True):
    """A cart's id, lines and currency."""

    cart_id: str
    lines: list[dict[str, Any]]
    currency: str


_NOT_CLOSED = (
    "SELECT cart_id, lines, currency FROM carts WHERE store_id = ? AND contact_id = ? "
    "AND state IN ('active', 'abandoned', 'empty')"
)
_LATEST_NOT_CLOSED = Statement(_NOT_CLOSED + " ORDER BY updated_at DESC, id DESC LIMIT 1")
_LATEST_NOT_CLOSED_ID = Statement(
    _NOT_CLOSED + " AND cart_id = ? ORDER BY updated_at DESC, id DESC LIMIT 1"
)


def latest_not_closed(
    conn: Conn, store_id: str, contact_id: str, cart_id: str | None = None
) -> CartLines | None:
    """The contact's most recently changed cart (with `cart_id`, when given) that is active,
    abandoned or empty."""
    if cart_id:
        r = conn.one(_LATEST_NOT_CLOSED_ID, (store_id, contact_id, cart_id))
    else:
        r = conn.one(_LATEST_NOT_CLOSED, (store_id, contact_id))
    return None if r is None else CartLines(cart_id=r[0], lines=loads(r[1]), currency=r[2])
