"""The deliveries' log and what can be done with it: listing deliveries and their attempts,
replay, counts by status, pruning old ones.

States: `pending` (waiting for its first or next attempt), `delivered` (a 2xx came back),
`failed` (a permanent failure: a 4xx other than 408/429, a redirect, an invalid URL or a
blocked address; no retry), `dead` (the last attempt of the schedule failed). `failed` and
`dead` deliveries can be replayed: back to `pending` with a fresh attempt count, same id.
"""

from __future__ import annotations

from typing import Any

from shopevents.jsoncodec import loads
from shopevents.storage import webhook_deliveries, webhook_leases
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

STATUSES = ("pending", "delivered", "failed", "dead")


def _delivery(row: webhook_deliveries.DeliveryRow, now: int | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpointId": row.endpoint_id,
        "topic": row.topic,
        "status": row.status,
        "attempts": int(row.attempts),
        "nextAttemptAt": iso(row.next_attempt_at) if row.status == "pending" else None,
        "createdAt": iso(row.created_at),
        "finishedAt": iso(row.finished_at),
        "lastStatusCode": row.last_status,
        "lastError": row.last_error,
        "replays": row.replays,
        "occurredAt": iso(row.occurred_at),
        "inFlight": bool(
            row.status == "pending"
            and row.claimed_until is not None
            and now is not None
            and row.claimed_until >= now
        ),
    }


def list_deliveries(
    conn: Conn,
    store_id: str,
    endpoint_id: str | None = None,
    status: str | None = None,
    *,
    limit: int = 50,
    offset: int = 0,
    now: int | None = None,
) -> list[dict[str, Any]]:
    """The store's deliveries, newest first, optionally of one endpoint and one status."""
    rows = webhook_deliveries.deliveries(conn, store_id, endpoint_id, status, limit, offset)
    return [_delivery(r, now) for r in rows]


def delivery_attempts(conn: Conn, delivery_id: str) -> list[dict[str, Any]]:
    """Every attempt of a delivery, oldest first: status code, latency, error, trimmed response."""
    return [
        {
            "attempt": r.attempt,
            "at": iso(r.at),
            "statusCode": r.status_code,
            "latencyMs": r.latency_ms,
            "error": r.error,
            "response": r.response,
            "outcome": r.outcome,
        }
        for r in webhook_deliveries.attempts(conn, delivery_id)
    ]


def get_delivery(
    conn: Conn, delivery_id: str, store_id: str | None = None, now: int | None = None
) -> dict[str, Any] | None:
    """One delivery with its body and its attempts."""
    found = webhook_deliveries.delivery(conn, delivery_id, store_id)
    if found is None:
        return None
    row, body = found
    out = _delivery(row, now)
    out["body"] = loads(body)
    out["attemptLog"] = delivery_attempts(conn, delivery_id)
    return out


def replay(conn: Conn, delivery_id: str, now: int, store_id: str | None = None) -> str | None:
    """Put a `failed` or `dead` delivery back to `pending`, due now, with a fresh attempt
    count and the same id. Give its status before (None if there is no such delivery); only
    `failed` and `dead` ones change."""
    found = webhook_deliveries.status_of(conn, delivery_id, store_id)
    if found is None:
        return None
    before, endpoint_id = found
    if before in ("failed", "dead"):
        webhook_deliveries.replay(conn, delivery_id, now)
        webhook_leases.mark_due(conn, [endpoint_id], now)
    return before


def replay_all(
    conn: Conn,
    store_id: str,
    now: int,
    *,
    statuses: tuple[str, ...] = ("dead",),
    endpoint_id: str | None = None,
) -> int:
    """Replay every delivery of the store in `statuses` (`dead` and/or `failed`); give how many."""
    statuses = tuple(s for s in statuses if s in ("dead", "failed"))
    if not statuses:
        return 0
    endpoints = webhook_deliveries.replay_all(conn, store_id, statuses, endpoint_id, now)
    webhook_leases.mark_due(conn, sorted(set(endpoints)), now)
    return len(endpoints)


def counts(conn: Conn, store_id: str) -> dict[str, int]:
    """Deliveries of the store by status (for the dashboard's badges)."""
    return {**dict.fromkeys(STATUSES, 0), **webhook_deliveries.counts(conn, store_id)}


def prune(
    conn: Conn,
    before: int,
    *,
    statuses: tuple[str, ...] = ("delivered", "failed"),
    limit: int = 1000,
) -> int:
    """Delete up to `limit` deliveries in `statuses` finished before `before`, with their
    attempts (for a retention step; dead ones are kept by default until replayed). Run it
    inside a transaction; give how many deliveries went."""
    statuses = tuple(s for s in statuses if s in ("delivered", "failed", "dead"))
    if not statuses:
        return 0
    ids = webhook_deliveries.finished_before(conn, statuses, before, limit)
    webhook_deliveries.delete(conn, ids)
    return len(ids)
