"""Requests as stored: each request received (its body and answer), the events it carried,
and what was refused of it (quarantine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

_COLUMNS = (
    "store_id, received_at, channel, request_key, tracker_id, origin, body, response, "
    "contact_id, accepted, rejected"
)
_INSERT = Insert("requests", "id, " + _COLUMNS)
_INSERT_UNKEYED = Insert("requests", _COLUMNS)
# A request a cluster collector accepted: with its intake id.
_INSERT_INTAKE = Insert("requests", "id, " + _COLUMNS + ", intake_id")


class RequestRow(msgspec.Struct):
    """A request's row (`response`: the answer's JSON text)."""

    store_id: str
    received_at: int
    channel: str
    request_key: str | None
    tracker_id: str | None
    origin: str | None
    body: bytes
    response: str
    contact_id: str | None
    accepted: int
    rejected: int


def _values(r: RequestRow) -> tuple[Any, ...]:
    return (
        r.store_id,
        r.received_at,
        r.channel,
        r.request_key,
        r.tracker_id,
        r.origin,
        r.body,
        r.response,
        r.contact_id,
        r.accepted,
        r.rejected,
    )


def append(conn: Conn, request_id: int, r: RequestRow, intake_id: str | None = None) -> None:
    """Queue a request's row under the id reserved for it (`conn.reserve_id("requests")`)."""
    if intake_id is None:
        conn.append(_INSERT, (request_id, *_values(r)))
    else:
        conn.append(_INSERT_INTAKE, (request_id, *_values(r), intake_id))


def insert(conn: Conn, r: RequestRow) -> int:
    """Write a request's row now; give its id."""
    return conn.insert_id(_INSERT_UNKEYED, _values(r))


_SET_RESPONSE = Statement("UPDATE requests SET response = ?, accepted = ? WHERE id = ?")


def set_response(conn: Conn, request_id: int, response: str, accepted: int) -> None:
    """Write the answer of a request written before it was known (the REST API's)."""
    conn.execute(_SET_RESPONSE, (response, accepted, request_id))


RESPONSE_KEYS = ("request_key", "intake_id")
"""The columns a request is found by: the client's requestId, a cluster collector's id."""

_RESPONSE = {
    column: Statement(f"SELECT response FROM requests WHERE store_id = ? AND {column} = ?")
    for column in RESPONSE_KEYS
}


def response_written(conn: Conn, store_id: str, column: str, key: str) -> str | None:
    """The stored answer of the request with this `request_key` or `intake_id`, among the rows
    written (the caller has looked through the transaction's own queued requests)."""
    out: str | None = conn.scalar_written(_RESPONSE[column], (store_id, key))
    return out


def responses(conn: Conn, store_id: str, column: str, keys: Sequence[str]) -> dict[str, str]:
    """key → stored answer, for those of `keys` (`request_key` or `intake_id` values) stored."""
    assert column in RESPONSE_KEYS, column
    return dict(conn.rows_by_key("requests", column, "response", store_id, keys))


_EVENT = Insert(
    "events",
    "store_id, request_id, idx, type, status, received_at, contact_id, warnings, data",
)


EventValues = tuple[str, int, int, str | None, str, int, str | None, str | None, str]
"""An event's row: store_id, request_id, idx, type, status, received_at, contact_id,
warnings (JSON or None) and data (JSON)."""


def append_event(conn: Conn, *values: *EventValues) -> int:
    """Queue an event's row; give its id."""
    return conn.append_id(_EVENT, values)


_QUARANTINE = Insert(
    "quarantine", "store_id, request_id, idx, type, code, received_at, raw, errors"
)


def quarantine(
    conn: Conn,
    store_id: str,
    request_id: int,
    idx: int,
    type_: str,
    code: str,
    at: int,
    raw: bytes | str | None,
    errors: str,
    *,
    at_once: bool = False,
) -> int | None:
    """Keep a refused event (or cart: `idx` -1) raw with its errors (JSON): queued, or with
    `at_once`, written now and its id given."""
    values = (store_id, request_id, idx, type_, code, at, raw, errors)
    if at_once:
        return conn.insert_id(_QUARANTINE, values)
    conn.append(_QUARANTINE, values)
    return None


class Quarantined(msgspec.Struct):
    errors: str | None
    request_id: int


_QUARANTINED = Statement("SELECT errors, request_id FROM quarantine WHERE id = ? AND store_id = ?")
_REPLAYED = Statement("UPDATE quarantine SET replayed_at = ?, replay_status = ? WHERE id = ?")
_REFUSED_AGAIN = Statement(
    "UPDATE quarantine SET code = ?, errors = ?, replayed_at = ?, replay_status = 'rejected' "
    "WHERE id = ?"
)


def quarantined(conn: Conn, store_id: str, quarantine_id: int) -> Quarantined | None:
    row = conn.one(_QUARANTINED, (quarantine_id, store_id))
    return None if row is None else Quarantined(row[0], int(row[1]))


def mark_replayed(conn: Conn, quarantine_id: int, at: int, status: str = "accepted") -> None:
    """A quarantined row was replayed: `accepted` (or, a purchase, `duplicate` / `conflict`)."""
    conn.execute(_REPLAYED, (at, status, quarantine_id))


def mark_refused_again(conn: Conn, quarantine_id: int, code: str, errors: str, at: int) -> None:
    """A quarantined row was replayed and refused again (with these errors, JSON)."""
    conn.execute(_REFUSED_AGAIN, (code, errors, at, quarantine_id))


class QuarantinedEvent(NamedTuple):
    """A quarantined event or cart (`idx` < 0) as a replay reads it."""

    request_id: int
    idx: int
    raw: bytes
    replay_status: str | None
    tracker_id: str | None  # the tracker of the request it came in


_FOR_REPLAY = Statement(
    "SELECT q.request_id, q.idx, q.raw, q.replay_status, r.tracker_id FROM quarantine q "
    "LEFT JOIN requests r ON r.id = q.request_id WHERE q.id = ? AND q.store_id = ?"
)
_PENDING = (
    "SELECT id FROM quarantine WHERE store_id = ? "
    "AND (replay_status IS NULL OR replay_status = 'rejected')"
)
_PENDING_ANY = Statement(_PENDING + " ORDER BY id LIMIT ?")
_PENDING_OF_CODE = Statement(_PENDING + " AND code = ? ORDER BY id LIMIT ?")


def for_replay(conn: Conn, store_id: str, quarantine_id: int) -> QuarantinedEvent | None:
    row = conn.one(_FOR_REPLAY, (quarantine_id, store_id))
    if row is None:
        return None
    return QuarantinedEvent(int(row[0]), int(row[1]), bytes(row[2]), row[3], row[4])


def not_replayed(conn: Conn, store_id: str, code: str | None, limit: int) -> list[int]:
    """Quarantine rows not replayed successfully yet (oldest first), optionally of one code."""
    if code:
        rows = conn.all(_PENDING_OF_CODE, (store_id, code, limit))
    else:
        rows = conn.all(_PENDING_ANY, (store_id, limit))
    return [int(r[0]) for r in rows]
