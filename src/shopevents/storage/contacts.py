"""Contacts as stored: the people (or browsers) a store's events belong to."""

from __future__ import annotations

import msgspec

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Statement

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
