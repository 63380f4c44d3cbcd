"""Named reads the dashboard needs beyond `storage.reads` (shared with the CLI)."""

from __future__ import annotations

from typing import Any

from shopevents.storage.codec import dumps, loads, money_from_db
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

# --- requests (the integration debugger) -----------------------------------------------------


def _summary(row: Any) -> dict[str, Any]:
    response = loads(row[6]) or {}
    results = response.get("results") or []
    return {
        "id": int(row[0]),
        "receivedAt": iso(row[1]),
        "channel": row[2],
        "origin": row[3],
        "trackerId": row[4],
        "contactId": row[5],
        "contactEmail": row[10],
        "bot": row[11],  # why it is a bot's request (docs/privacy.md#bots), or None
        "botKept": bool(row[12]),
        "accepted": int(row[7]),
        "rejected": int(row[8]),
        "size": int(row[9] or 0),
        "results": [
            {
                "index": r.get("index"),
                "type": r.get("type"),
                "status": r.get("status"),
                "code": r.get("code"),
                "path": r.get("path"),
                "message": r.get("message"),
                "warnings": r.get("warnings") or [],
            }
            for r in results
        ],
        "cart": response.get("cart"),
        "entityInfo": response.get("entityInfo"),
        "duplicateRequest": bool(response.get("duplicateRequest")),
    }


_REQ_COLS = (
    "r.id, r.received_at, r.channel, r.origin, r.tracker_id, r.contact_id, r.response, "
    "r.accepted, r.rejected, LENGTH(r.body), COALESCE(c.email, m.email), bq.reason, bq.kept"
)
_REQ_FROM = (
    "FROM requests r LEFT JOIN contacts c ON c.id = r.contact_id "
    "LEFT JOIN contacts m ON m.id = c.merged_into LEFT JOIN bot_requests bq ON bq.id = r.id"
)
REQUEST_STATUSES = ("accepted", "duplicate", "conflict", "rejected")
SCAN_LIMIT = 5000
"""A filtered page of the debugger looks at most this many requests; "older" goes on."""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _matches(item: dict[str, Any], status: str | None, event_type: str | None) -> bool:
    return any(
        (status is None or r["status"] == status)
        and (event_type is None or r["type"] == event_type)
        for r in item["results"]
    )


def request_summaries(
    conn: Conn,
    store_id: str,
    *,
    after_id: int = 0,
    before_id: int | None = None,
    limit: int = 50,
    status: str | None = None,
    event_type: str | None = None,
    text: str | None = None,
) -> list[dict[str, Any]]:
    """The store's requests (newest first), without their bodies: after `after_id` (the live
    list) or before `before_id` (the "older" pages), filtered by an event's outcome and
    type (`status`, `event_type`: one event must have both) and by `text` (a request
    number, or part of a tracker id or of the contact's e-mail)."""
    return request_page(
        conn,
        store_id,
        after_id=after_id,
        before_id=before_id,
        limit=limit,
        status=status,
        event_type=event_type,
        text=text,
    )[0]


def request_page(
    conn: Conn,
    store_id: str,
    *,
    after_id: int = 0,
    before_id: int | None = None,
    limit: int = 50,
    status: str | None = None,
    event_type: str | None = None,
    text: str | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """`request_summaries` and the cursor of the next older page (None at the end)."""
    where = ["r.store_id = ?", "r.id > ?"]
    params: list[Any] = [store_id, after_id]
    if text:
        t = text.strip().lstrip("#")
        if t.isascii() and t.isdigit() and len(t) < 18:
            where.append("r.id = ?")
            params.append(int(t))
        else:
            where.append(
                "(r.tracker_id LIKE ? ESCAPE '\\' OR LOWER(COALESCE(c.email, m.email, '')) "
                "LIKE ? ESCAPE '\\')"
            )
            params += [_like(t), _like(t.lower())]
    if status == "rejected":
        where.append("r.rejected > 0")
    elif status:
        where.append("r.response LIKE ?")
        params.append(f'%"status":"{status}"%')
    if event_type:
        where.append("r.response LIKE ? ESCAPE '\\'")
        params.append(_like(f'"type":{dumps(event_type)}'))
    filtered = bool(status or event_type)
    out: list[dict[str, Any]] = []
    cursor = before_id
    scanned = 0
    while True:
        sql = f"SELECT {_REQ_COLS} {_REQ_FROM} WHERE {' AND '.join(where)}"
        args = list(params)
        if cursor is not None:
            sql += " AND r.id < ?"
            args.append(cursor)
        chunk = limit + 1 if not filtered else 200
        rows = conn.all(sql + " ORDER BY r.id DESC LIMIT ?", [*args, chunk])
        for row in rows:
            item = _summary(row)
            scanned += 1
            cursor = item["id"]
            if filtered and not _matches(item, status, event_type):
                if scanned >= SCAN_LIMIT:
                    return out, cursor
                continue
            if len(out) == limit:
                return out, out[-1]["id"]
            out.append(item)
            if scanned >= SCAN_LIMIT:
                return out, cursor
        if len(rows) < chunk:
            return out, None


def request_detail(conn: Conn, store_id: str, request_id: int) -> dict[str, Any] | None:
    row = conn.one(
        f"SELECT {_REQ_COLS}, r.body, r.response {_REQ_FROM} WHERE r.store_id = ? AND r.id = ?",
        (store_id, request_id),
    )
    if row is None:
        return None
    out = _summary(row)
    out["body"] = bytes(row[13]).decode("utf-8", "replace")
    out["response"] = row[14]
    out["quarantined"] = [
        {"id": int(r[0]), "index": int(r[1]), "code": r[2], "replayStatus": r[3]}
        for r in conn.all(
            "SELECT id, idx, code, replay_status FROM quarantine WHERE store_id = ? AND request_id = ? ORDER BY idx",
            (store_id, request_id),
        )
    ]
    return out


# --- quarantine ------------------------------------------------------------------------------


def quarantine_codes(conn: Conn, store_id: str) -> list[dict[str, Any]]:
    """Each rejection code with how many rows carry it and how many still wait for a replay."""
    return [
        {"code": r[0], "count": int(r[1]), "pending": int(r[2] or 0)}
        for r in conn.all(
            "SELECT code, COUNT(*), SUM(CASE WHEN replay_status IS NULL OR replay_status = 'rejected' "
            "THEN 1 ELSE 0 END) FROM quarantine WHERE store_id = ? GROUP BY code ORDER BY COUNT(*) DESC, code",
            (store_id,),
        )
    ]


def quarantine_count(
    conn: Conn, store_id: str, *, code: str | None = None, pending_only: bool = False
) -> int:
    sql = "SELECT COUNT(*) FROM quarantine WHERE store_id = ?"
    params: list[Any] = [store_id]
    if code:
        sql += " AND code = ?"
        params.append(code)
    if pending_only:
        sql += " AND (replay_status IS NULL OR replay_status = 'rejected')"
    return int(conn.scalar(sql, params) or 0)


# --- purchases -------------------------------------------------------------------------------


def purchase_repeats(
    conn: Conn, store_id: str, purchase_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Purchase events that repeated a recorded purchase (duplicate) or contradicted it
    (conflict), newest first; of one purchaseId if given."""
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
    out = []
    for r in conn.all(sql, params):
        data = loads(r[5]) or {}
        purchase = data.get("purchase") or {}
        if purchase_id is not None and purchase.get("purchaseId") != purchase_id:
            continue
        out.append(
            {
                "eventId": int(r[0]),
                "receivedAt": iso(r[1]),
                "status": r[2],
                "requestId": int(r[3]),
                "channel": r[4],
                "purchaseId": purchase.get("purchaseId"),
                "totalPrice": purchase.get("totalPrice"),
                "purchase": purchase,
            }
        )
    return out


def count_purchases(conn: Conn, store_id: str, search: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM purchases WHERE store_id = ?"
    params: list[Any] = [store_id]
    if search:
        sql += " AND purchase_id LIKE ?"
        params.append(f"%{search}%")
    return int(conn.scalar(sql, params) or 0)


# --- carts, contacts, catalog -------------------------------------------------------------------


def cart_state_counts(conn: Conn, store_id: str) -> dict[str, int]:
    return {
        r[0]: int(r[1])
        for r in conn.all(
            "SELECT state, COUNT(*) FROM carts WHERE store_id = ? GROUP BY state", (store_id,)
        )
    }


def count_products(conn: Conn, store_id: str) -> int:
    return int(conn.scalar("SELECT COUNT(*) FROM products WHERE store_id = ?", (store_id,)) or 0)


def store_has_data(conn: Conn, store_id: str) -> bool:
    """Whether anything at all was ever received for the store."""
    return (
        conn.scalar("SELECT id FROM requests WHERE store_id = ? LIMIT 1", (store_id,)) is not None
    )


def contact_summary(conn: Conn, store_id: str, contact_id: str) -> dict[str, Any]:
    """Cart and activity counts for the contact sheet."""
    carts = {
        r[0]: int(r[1])
        for r in conn.all(
            "SELECT state, COUNT(*) FROM carts WHERE store_id = ? AND contact_id = ? GROUP BY state",
            (store_id, contact_id),
        )
    }
    return {"carts": carts}


def merged_contacts(conn: Conn, store_id: str, contact_id: str) -> list[str]:
    return [
        r[0]
        for r in conn.all(
            "SELECT id FROM contacts WHERE store_id = ? AND merged_into = ?", (store_id, contact_id)
        )
    ]


def money(value: Any) -> Any:
    return money_from_db(int(value)) if value is not None else None


# --- webhook deliveries ------------------------------------------------------------------------


def delivery_endpoint(conn: Conn, store_id: str, delivery_id: str) -> str | None:
    """The endpoint a delivery of the store belongs to (None if there is no such delivery)."""
    found = conn.scalar(
        "SELECT endpoint_id FROM webhook_deliveries WHERE id = ? AND store_id = ?",
        (delivery_id, store_id),
    )
    return None if found is None else str(found)


# --- hourly sales (the overview of a day or two) ----------------------------------------------


def purchases_between(
    conn: Conn, store_id: str, start_us: int, end_us: int, currency: str
) -> list[tuple[int, Any]]:
    """(purchased at µs, total) of the store's purchases in [start_us, end_us) in `currency`."""
    return [
        (int(r[0]), money_from_db(int(r[1])))
        for r in conn.all(
            "SELECT purchased_at, total_price FROM purchases WHERE store_id = ? "
            "AND purchased_at >= ? AND purchased_at < ? AND currency = ?",
            (store_id, start_us, end_us, currency),
        )
    ]
