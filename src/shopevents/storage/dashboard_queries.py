"""Named reads of the dashboard (and the CLI) beyond `storage.reads`: the integration
debugger's requests, quarantine figures, repeated purchases, counts of carts, products and
purchases, merged contacts, and a day's purchases."""

from __future__ import annotations

from typing import Any, NamedTuple

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.database import Conn
from shopevents.storage.reads import quarantine_where


class RequestRow(NamedTuple):
    id: int
    received_at: int
    channel: str
    origin: str | None
    tracker_id: str | None
    contact_id: str | None
    response: dict[str, Any]  # the answer given, decoded ({} when none was kept)
    accepted: int
    rejected: int
    size: int
    contact_email: str | None
    bot: str | None  # why it is a bot's request (docs/privacy.md#bots), or None
    bot_kept: bool


class RequestBody(NamedTuple):
    request: RequestRow
    body: bytes
    response: str | None  # the answer as stored


class QuarantinedRow(NamedTuple):
    id: int
    position: int  # the event's index in its request (-1: the request's cart)
    code: str
    replay_status: str | None


class CodeCount(NamedTuple):
    code: str
    rows: int
    pending: int  # still waiting for a replay (never replayed, or replayed and rejected)


class RepeatRow(NamedTuple):
    event_id: int
    received_at: int
    status: str
    request_id: int
    channel: str | None
    data: dict[str, Any]


class RequestFilter(NamedTuple):
    """What the debugger's list is narrowed to (None: anything)."""

    request_id: int | None = None
    text: str | None = None  # part of a tracker id or of the contact's e-mail
    status: str | None = None  # an event's outcome somewhere in the answer
    event_type: str | None = None  # an event type somewhere in the answer


_REQ_COLS = (
    "r.id, r.received_at, r.channel, r.origin, r.tracker_id, r.contact_id, r.response, "
    "r.accepted, r.rejected, LENGTH(r.body), COALESCE(c.email, m.email), bq.reason, bq.kept"
)
_REQ_FROM = (
    "FROM requests r LEFT JOIN contacts c ON c.id = r.contact_id "
    "LEFT JOIN contacts m ON m.id = c.merged_into LEFT JOIN bot_requests bq ON bq.id = r.id"
)


def _request(row: Any) -> RequestRow:
    return RequestRow(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        loads(row[6]) or {},
        int(row[7]),
        int(row[8]),
        int(row[9] or 0),
        row[10],
        row[11],
        bool(row[12]),
    )


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def requests(
    conn: Conn,
    store_id: str,
    where: RequestFilter,
    *,
    after_id: int,
    before_id: int | None,
    limit: int,
) -> list[RequestRow]:
    """Up to `limit` of the store's requests with after_id < id < before_id, newest first,
    matching `where` (`status` and `event_type` narrow by the answer's text: a caller wanting
    one event with both checks the rows)."""
    sql = ["r.store_id = ?", "r.id > ?"]
    params: list[Any] = [store_id, after_id]
    if where.request_id is not None:
        sql.append("r.id = ?")
        params.append(where.request_id)
    if where.text:
        sql.append(
            "(r.tracker_id LIKE ? ESCAPE '\\' OR LOWER(COALESCE(c.email, m.email, '')) "
            "LIKE ? ESCAPE '\\')"
        )
        params += [_like(where.text), _like(where.text.lower())]
    if where.status == "rejected":
        sql.append("r.rejected > 0")
    elif where.status:
        sql.append("r.response LIKE ?")
        params.append(f'%"status":"{where.status}"%')
    if where.event_type:
        sql.append("r.response LIKE ? ESCAPE '\\'")
        params.append(_like(f'"type":{dumps(where.event_type)}'))
    if before_id is not None:
        sql.append("r.id < ?")
        params.append(before_id)
    rows = conn.all(
        f"SELECT {_REQ_COLS} {_REQ_FROM} WHERE {' AND '.join(sql)} ORDER BY r.id DESC LIMIT ?",
        [*params, limit],
    )
    return [_request(r) for r in rows]


def request(conn: Conn, store_id: str, request_id: int) -> RequestBody | None:
    """One request of the store with its body and its answer as stored."""
    row = conn.one(
        f"SELECT {_REQ_COLS}, r.body, r.response {_REQ_FROM} WHERE r.store_id = ? AND r.id = ?",
        (store_id, request_id),
    )
    return None if row is None else RequestBody(_request(row), bytes(row[13]), row[14])


def quarantined_of(conn: Conn, store_id: str, request_id: int) -> list[QuarantinedRow]:
    """The events of a request that were quarantined, by position."""
    return [
        QuarantinedRow(int(r[0]), int(r[1]), r[2], r[3])
        for r in conn.all(
            "SELECT id, idx, code, replay_status FROM quarantine WHERE store_id = ? AND request_id = ? ORDER BY idx",
            (store_id, request_id),
        )
    ]


def quarantine_codes(conn: Conn, store_id: str) -> list[CodeCount]:
    """Each rejection code with its rows, most frequent first."""
    return [
        CodeCount(r[0], int(r[1]), int(r[2] or 0))
        for r in conn.all(
            "SELECT code, COUNT(*), SUM(CASE WHEN replay_status IS NULL OR replay_status = 'rejected' "
            "THEN 1 ELSE 0 END) FROM quarantine WHERE store_id = ? GROUP BY code ORDER BY COUNT(*) DESC, code",
            (store_id,),
        )
    ]


def quarantine_count(conn: Conn, store_id: str, code: str | None, pending_only: bool) -> int:
    where, params = quarantine_where(store_id, code, pending_only)
    return int(conn.scalar(f"SELECT COUNT(*) FROM quarantine WHERE {where}", params) or 0)


def purchase_repeats(
    conn: Conn, store_id: str, purchase_id: str | None, limit: int
) -> list[RepeatRow]:
    """Purchase events answered duplicate or conflict, newest first (those whose data may
    hold `purchase_id`, when given: the caller checks the decoded data)."""
    sql = (
        "SELECT e.id, e.received_at, e.status, e.request_id, r.channel, e.data FROM events e "
        "LEFT JOIN requests r ON r.id = e.request_id WHERE e.store_id = ? AND e.type = 'purchase' "
        "AND e.status IN ('duplicate', 'conflict')"
    )
    params: list[Any] = [store_id]
    if purchase_id is not None:
        sql += " AND e.data LIKE ?"
        params.append(f'%"purchaseId":{dumps(purchase_id)}%')
    sql += " ORDER BY e.received_at DESC, e.id DESC LIMIT ?"
    params.append(limit)
    return [
        RepeatRow(int(r[0]), r[1], r[2], int(r[3]), r[4], loads(r[5]) or {})
        for r in conn.all(sql, params)
    ]


def count_purchases(conn: Conn, store_id: str, search: str | None) -> int:
    sql = "SELECT COUNT(*) FROM purchases WHERE store_id = ?"
    params: list[Any] = [store_id]
    if search:
        sql += " AND purchase_id LIKE ?"
        params.append(f"%{search}%")
    return int(conn.scalar(sql, params) or 0)


def cart_states(conn: Conn, store_id: str, contact_id: str | None = None) -> dict[str, int]:
    """The store's carts (of one contact, when given) by state."""
    if contact_id is None:
        rows = conn.all(
            "SELECT state, COUNT(*) FROM carts WHERE store_id = ? GROUP BY state", (store_id,)
        )
    else:
        rows = conn.all(
            "SELECT state, COUNT(*) FROM carts WHERE store_id = ? AND contact_id = ? GROUP BY state",
            (store_id, contact_id),
        )
    return {r[0]: int(r[1]) for r in rows}


def count_products(conn: Conn, store_id: str) -> int:
    return int(conn.scalar("SELECT COUNT(*) FROM products WHERE store_id = ?", (store_id,)) or 0)


def store_has_data(conn: Conn, store_id: str) -> bool:
    """Whether anything at all was ever received for the store."""
    return (
        conn.scalar("SELECT id FROM requests WHERE store_id = ? LIMIT 1", (store_id,)) is not None
    )


def merged_contacts(conn: Conn, store_id: str, contact_id: str) -> list[str]:
    """The contacts merged into `contact_id`."""
    return [
        r[0]
        for r in conn.all(
            "SELECT id FROM contacts WHERE store_id = ? AND merged_into = ?", (store_id, contact_id)
        )
    ]


def purchases_between(
    conn: Conn, store_id: str, start_us: int, end_us: int, currency: str
) -> list[tuple[int, int]]:
    """(purchased at µs, total in millionths) of the store's purchases in [start_us, end_us)
    in `currency`."""
    return [
        (int(r[0]), int(r[1]))
        for r in conn.all(
            "SELECT purchased_at, total_price FROM purchases WHERE store_id = ? "
            "AND purchased_at >= ? AND purchased_at < ? AND currency = ?",
            (store_id, start_us, end_us, currency),
        )
    ]
