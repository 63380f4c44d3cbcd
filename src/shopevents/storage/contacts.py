"""Contacts as stored: the people (or browsers) a store's events belong to."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

_EMAIL = Statement("SELECT email FROM contacts WHERE id = ?")


def email_of(conn: Conn, contact_id: str) -> str | None:
    """A contact's e-mail address, if known."""
    email: str | None = conn.scalar(_EMAIL, (contact_id,))
    return email


class ContactHit(msgspec.Struct):
    """A contact found by one of its trackers (`tracker_id`) or by its e-mail (`tracker_id`
    None)."""

    tracker_id: str | None
    contact_id: str
    email: str | None


_BY_EMAIL = Statement("SELECT id FROM contacts WHERE store_id = ? AND email = ?")
_BY_TRACKER = Statement(
    "SELECT c.id, c.email FROM trackers t JOIN contacts c ON c.id = t.contact_id "
    "WHERE t.store_id = ? AND t.tracker_id = ?"
)
_LOOKUP = (
    "SELECT 't', t.tracker_id, c.id, c.email FROM trackers t JOIN contacts c "
    "ON c.id = t.contact_id WHERE t.store_id = ? AND t.tracker_id {trackers} "
    "UNION ALL SELECT 'e', email, id, email FROM contacts WHERE store_id = ? AND email {emails}"
)
# PostgreSQL: one index look-up per key whatever the planner's statistics say (with `= ANY`
# and no statistics yet, it may scan the whole store's index and filter).
_LOOKUP_PG = Statement(
    "",
    "SELECT 't', k.v, x.id, x.email FROM unnest(%s::text[]) AS k(v) CROSS JOIN LATERAL ("
    "SELECT c.id, c.email FROM trackers t JOIN contacts c ON c.id = t.contact_id "
    "WHERE t.store_id = %s AND t.tracker_id = k.v OFFSET 0) x "
    "UNION ALL SELECT 'e', k.v, x.id, x.email FROM unnest(%s::text[]) AS k(v) "
    "CROSS JOIN LATERAL (SELECT id, email FROM contacts WHERE store_id = %s AND email = k.v "
    "OFFSET 0) x",
)
_SET_EMAIL = Statement("UPDATE contacts SET email = ?, updated_at = ? WHERE id = ?")


def id_of_email(conn: Conn, store_id: str, email: str) -> str | None:
    """The store's contact with this e-mail."""
    cid: str | None = conn.scalar(_BY_EMAIL, (store_id, email))
    return cid


def of_tracker(conn: Conn, store_id: str, tracker_id: str) -> ContactHit | None:
    """The contact a tracker points to."""
    row = conn.one(_BY_TRACKER, (store_id, tracker_id))
    return None if row is None else ContactHit(tracker_id, row[0], row[1])


def of_trackers_and_emails(
    conn: Conn, store_id: str, trackers: list[str], emails: list[str]
) -> list[ContactHit]:
    """The contacts of many trackers and e-mails, in one statement."""
    if conn.dialect == "postgres":
        rows = conn.all(_LOOKUP_PG, (trackers, store_id, emails, store_id))
    else:
        t_sql, t_params = conn.any_of(trackers or [""])
        e_sql, e_params = conn.any_of(emails or [""])
        rows = conn.all(
            _LOOKUP.format(trackers=t_sql, emails=e_sql),
            (store_id, *t_params, store_id, *e_params),
        )
    return [ContactHit(key if kind == "t" else None, cid, mail) for kind, key, cid, mail in rows]


def set_email(conn: Conn, contact_id: str, email: str, at: int) -> None:
    """An anonymous contact is identified by this e-mail."""
    conn.execute(_SET_EMAIL, (email, at, contact_id))


_INSERT = Insert(
    "contacts",
    "id, store_id, email, fields, created_at, updated_at, total_purchases, total_amount, "
    "first_purchase_at, last_purchase_at",
)


class NewContact(msgspec.Struct):
    """A contact's first row: its purchase aggregates are those counted before it is written."""

    store_id: str
    email: str | None
    fields: str
    created_at: int
    updated_at: int
    total_purchases: int = 0
    total_amount: Decimal = Decimal(0)
    first_purchase_at: int | None = None
    last_purchase_at: int | None = None


def append(conn: Conn, contact_id: str, c: NewContact) -> None:
    """Queue a new contact's row."""
    conn.append(
        _INSERT,
        (
            contact_id,
            c.store_id,
            c.email,
            c.fields,
            c.created_at,
            c.updated_at,
            c.total_purchases,
            str(c.total_amount),
            c.first_purchase_at,
            c.last_purchase_at,
        ),
    )


_REPOINT_TRACKER = Statement(
    "UPDATE trackers SET contact_id = ?, last_seen = ? WHERE store_id = ? AND tracker_id = ?"
)
_INSERT_TRACKER = Insert(
    "trackers", ("store_id", "tracker_id", "contact_id", "first_seen", "last_seen")
)


def point_tracker(
    conn: Conn, store_id: str, tracker_id: str, contact_id: str, at: int, exists: bool
) -> None:
    """The tracker (stored already if `exists`, else new) points to the contact."""
    if exists:
        conn.execute(_REPOINT_TRACKER, (contact_id, at, store_id, tracker_id))
    else:
        conn.append(_INSERT_TRACKER, (store_id, tracker_id, contact_id, at, at))


_FIELDS = Statement("SELECT fields FROM contacts WHERE id = ?")
_SET_FIELDS = Statement("UPDATE contacts SET fields = ?, updated_at = ? WHERE id = ?")


def fields_of(conn: Conn, contact_id: str) -> dict[str, Any]:
    """A contact's fields (empty for an unknown contact)."""
    out: dict[str, Any] = loads(conn.scalar(_FIELDS, (contact_id,))) or {}
    return out


def set_fields(conn: Conn, contact_id: str, fields: dict[str, Any], at: int) -> None:
    conn.execute(_SET_FIELDS, (dumps(fields), at, contact_id))


_TOTAL = Statement("SELECT total_amount FROM contacts WHERE id = ?")
_COUNT_PURCHASE = Statement(
    "UPDATE contacts SET total_purchases = total_purchases + 1, total_amount = ?, "
    "first_purchase_at = CASE WHEN first_purchase_at IS NULL OR first_purchase_at > ? "
    "THEN ? ELSE first_purchase_at END, "
    "last_purchase_at = CASE WHEN last_purchase_at IS NULL OR last_purchase_at < ? "
    "THEN ? ELSE last_purchase_at END, "
    "updated_at = ? WHERE id = ?"
)
_PURCHASE_SPAN = Statement(
    "SELECT COUNT(*), MIN(purchased_at), MAX(purchased_at) FROM purchases WHERE contact_id = ?"
)
_PURCHASE_TOTALS = Statement("SELECT total_price FROM purchases WHERE contact_id = ?")
_SET_AGGREGATES = Statement(
    "UPDATE contacts SET total_purchases = ?, total_amount = ?, first_purchase_at = ?, "
    "last_purchase_at = ? WHERE id = ?"
)


def total_amount(conn: Conn, contact_id: str) -> Decimal:
    """The contact's stored purchase total (currency units)."""
    return Decimal(str(conn.scalar(_TOTAL, (contact_id,)) or "0"))


def count_purchase(conn: Conn, contact_id: str, total: Decimal, purchased_at: int, at: int) -> None:
    """One more purchase in the contact's aggregates, its new total being `total`."""
    conn.execute(
        _COUNT_PURCHASE,
        (str(total), purchased_at, purchased_at, purchased_at, purchased_at, at, contact_id),
    )


class PurchaseSums(msgspec.Struct):
    """The counted purchases of a contact: how many, their totals (millionths), first and last."""

    count: int
    totals: list[int]
    first_at: int | None
    last_at: int | None


def purchase_sums(conn: Conn, contact_id: str) -> PurchaseSums:
    count, first, last = conn.one(_PURCHASE_SPAN, (contact_id,))
    totals = [int(r[0]) for r in conn.all(_PURCHASE_TOTALS, (contact_id,))]
    return PurchaseSums(int(count), totals, first, last)


def set_aggregates(
    conn: Conn, contact_id: str, count: int, amount: str, first: int | None, last: int | None
) -> None:
    """Store a contact's purchase aggregates (`amount`: exact decimal text)."""
    conn.execute(_SET_AGGREGATES, (count, amount, first, last, contact_id))


_UNFLAG_BOT = Statement("UPDATE contacts SET bot = 0 WHERE id = ? AND bot = 1")
_FLAG_BOT = Statement("UPDATE contacts SET bot = 1 WHERE id = ?")
_BOT_REQUEST = Insert("bot_requests", ("id", "store_id", "reason", "kept"))


def set_bot(conn: Conn, contact_id: str, bot: bool) -> None:
    """Flag the contact as a bot's, or clear its flag."""
    conn.execute(_FLAG_BOT if bot else _UNFLAG_BOT, (contact_id,))


def add_bot_request(conn: Conn, request_id: int, store_id: str, reason: str, kept: bool) -> None:
    """Queue the record of a bot's request."""
    conn.append(_BOT_REQUEST, (request_id, store_id, reason, int(kept)))


_WITH_LAST_TRACKER = Statement(
    "SELECT c.id, (SELECT t.tracker_id FROM trackers t WHERE t.store_id = c.store_id "
    "AND t.contact_id = c.id ORDER BY t.last_seen DESC LIMIT 1) "
    "FROM contacts c WHERE c.store_id = ? AND c.email = ?"
)


def with_last_tracker(conn: Conn, store_id: str, email: str) -> ContactHit | None:
    """The store's contact with this e-mail, with the tracker it was seen with last (if any)."""
    row = conn.one(_WITH_LAST_TRACKER, (store_id, email))
    return None if row is None else ContactHit(row[1], row[0], email)
