"""Named reads the dashboard needs beyond `storage.reads` (shared with the CLI)."""

from __future__ import annotations

from typing import Any

from shopevents.storage import dashboard_queries as stored
from shopevents.storage import webhook_claims
from shopevents.storage.codec import money_from_db
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

# --- requests (the integration debugger) -----------------------------------------------------


def _summary(row: stored.RequestRow) -> dict[str, Any]:
    response = row.response
    results = response.get("results") or []
    return {
        "id": row.id,
        "receivedAt": iso(row.received_at),
        "channel": row.channel,
        "origin": row.origin,
        "trackerId": row.tracker_id,
        "contactId": row.contact_id,
        "contactEmail": row.contact_email,
        "bot": row.bot,  # why it is a bot's request (docs/privacy.md#bots), or None
        "botKept": row.bot_kept,
        "accepted": row.accepted,
        "rejected": row.rejected,
        "size": row.size,
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


REQUEST_STATUSES = ("accepted", "duplicate", "conflict", "rejected")
SCAN_LIMIT = 5000
"""A filtered page of the debugger looks at most this many requests; "older" goes on."""


def _matches(item: dict[str, Any], status: str | None, event_type: str | None) -> bool:
    return any(
        (status is None or r["status"] == status)
        and (event_type is None or r["type"] == event_type)
        for r in item["results"]
    )


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
    """The store's requests (newest first), without their bodies, and the cursor of the next
    older page (None at the end): after `after_id` (the live list) or before `before_id` (the
    "older" pages), filtered by an event's outcome and type (`status`, `event_type`: one event
    must have both) and by `text` (a request number, or part of a tracker id or of the
    contact's e-mail)."""
    where = stored.RequestFilter(status=status or None, event_type=event_type or None)
    if text:
        t = text.strip().lstrip("#")
        if t.isascii() and t.isdigit() and len(t) < 18:
            where = where._replace(request_id=int(t))
        else:
            where = where._replace(text=t)
    filtered = bool(status or event_type)
    out: list[dict[str, Any]] = []
    cursor = before_id
    scanned = 0
    while True:
        chunk = limit + 1 if not filtered else 200
        rows = stored.requests(
            conn, store_id, where, after_id=after_id, before_id=cursor, limit=chunk
        )
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
    found = stored.request(conn, store_id, request_id)
    if found is None:
        return None
    out = _summary(found.request)
    out["body"] = found.body.decode("utf-8", "replace")
    out["response"] = found.response
    out["quarantined"] = [
        {"id": r.id, "index": r.position, "code": r.code, "replayStatus": r.replay_status}
        for r in stored.quarantined_of(conn, store_id, request_id)
    ]
    return out


# --- quarantine ------------------------------------------------------------------------------


def quarantine_codes(conn: Conn, store_id: str) -> list[dict[str, Any]]:
    """Each rejection code with how many rows carry it and how many still wait for a replay."""
    return [
        {"code": r.code, "count": r.rows, "pending": r.pending}
        for r in stored.quarantine_codes(conn, store_id)
    ]


def quarantine_count(
    conn: Conn, store_id: str, *, code: str | None = None, pending_only: bool = False
) -> int:
    return stored.quarantine_count(conn, store_id, code, pending_only)


# --- purchases -------------------------------------------------------------------------------


def purchase_repeats(
    conn: Conn, store_id: str, purchase_id: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Purchase events that repeated a recorded purchase (duplicate) or contradicted it
    (conflict), newest first; of one purchaseId if given."""
    out = []
    for r in stored.purchase_repeats(conn, store_id, purchase_id, limit):
        purchase = r.data.get("purchase") or {}
        if purchase_id is not None and purchase.get("purchaseId") != purchase_id:
            continue
        out.append(
            {
                "eventId": r.event_id,
                "receivedAt": iso(r.received_at),
                "status": r.status,
                "requestId": r.request_id,
                "channel": r.channel,
                "purchaseId": purchase.get("purchaseId"),
                "totalPrice": purchase.get("totalPrice"),
                "purchase": purchase,
            }
        )
    return out


def count_purchases(conn: Conn, store_id: str, search: str | None = None) -> int:
    return stored.count_purchases(conn, store_id, search)


# --- carts, contacts, catalog -------------------------------------------------------------------


def cart_state_counts(conn: Conn, store_id: str) -> dict[str, int]:
    return stored.cart_states(conn, store_id)


def count_products(conn: Conn, store_id: str) -> int:
    return stored.count_products(conn, store_id)


def store_has_data(conn: Conn, store_id: str) -> bool:
    """Whether anything at all was ever received for the store."""
    return stored.store_has_data(conn, store_id)


def contact_summary(conn: Conn, store_id: str, contact_id: str) -> dict[str, Any]:
    """Cart and activity counts for the contact sheet."""
    return {"carts": stored.cart_states(conn, store_id, contact_id)}


def merged_contacts(conn: Conn, store_id: str, contact_id: str) -> list[str]:
    return stored.merged_contacts(conn, store_id, contact_id)


def money(value: Any) -> Any:
    return money_from_db(int(value)) if value is not None else None


# --- webhook deliveries ------------------------------------------------------------------------


def delivery_endpoint(conn: Conn, store_id: str, delivery_id: str) -> str | None:
    """The endpoint a delivery of the store belongs to (None if there is no such delivery)."""
    return webhook_claims.endpoint_of(conn, delivery_id, store_id)


# --- hourly sales (the overview of a day or two) ----------------------------------------------


def purchases_between(
    conn: Conn, store_id: str, start_us: int, end_us: int, currency: str
) -> list[tuple[int, Any]]:
    """(purchased at µs, total) of the store's purchases in [start_us, end_us) in `currency`."""
    return [
        (at, money_from_db(total))
        for at, total in stored.purchases_between(conn, store_id, start_us, end_us, currency)
    ]
