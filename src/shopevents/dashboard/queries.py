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
    "id, received_at, channel, origin, tracker_id, contact_id, response, accepted, rejected, "
    "LENGTH(body)"
)


def request_summaries(
    conn: Conn, store_id: str, *, after_id: int = 0, before_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The store's latest requests (newest first), without their bodies."""
    sql = f"SELECT {_REQ_COLS} FROM requests WHERE store_id = ? AND id > ?"
    params: list[Any] = [store_id, after_id]
    if before_id is not None:
        sql += " AND id < ?"
        params.append(before_id)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [_summary(r) for r in conn.all(sql, params)]


def request_detail(conn: Conn, store_id: str, request_id: int) -> dict[str, Any] | None:
    row = conn.one(
        f"SELECT {_REQ_COLS}, body, response FROM requests WHERE store_id = ? AND id = ?",
        (store_id, request_id),
    )
    if row is None:
        return None
    out = _summary(row)
    out["body"] = bytes(row[10]).decode("utf-8", "replace")
    out["response"] = row[11]
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
