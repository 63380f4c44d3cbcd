"""Webhook deliveries in storage, as the log reads them: deliveries and their attempts,
replays, counts by status, and deleting old ones. The rules are in `webhooks.delivery_log`;
dispatch, leases and claims are in `storage.webhook_dispatch`, `storage.webhook_leases` and
`storage.webhook_claims`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from shopevents.storage.database import Conn


class DeliveryRow(NamedTuple):
    id: str
    endpoint_id: str
    topic: str
    status: str
    attempts: int
    next_attempt_at: int | None
    created_at: int
    finished_at: int | None
    last_status: int | None
    last_error: str | None
    replays: int
    occurred_at: int
    claimed_until: int | None


class AttemptRow(NamedTuple):
    attempt: int
    at: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response: str | None
    outcome: str


_DCOLS = (
    "id, endpoint_id, topic, status, attempts, next_attempt_at, created_at, finished_at, "
    "last_status, last_error, replays, occurred_at, claimed_until"
)


def _delivery(row: Any) -> DeliveryRow:
    return DeliveryRow._make((*row[:10], int(row[10] or 0), *row[11:13]))


def deliveries(
    conn: Conn,
    store_id: str,
    endpoint_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> list[DeliveryRow]:
    """The store's deliveries, newest first, optionally of one endpoint and one status."""
    sql = f"SELECT {_DCOLS} FROM webhook_deliveries WHERE store_id = ?"
    params: list[Any] = [store_id]
    if endpoint_id is not None:
        sql += " AND endpoint_id = ?"
        params.append(endpoint_id)
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [_delivery(r) for r in conn.all(sql, params)]


def delivery(
    conn: Conn, delivery_id: str, store_id: str | None = None
) -> tuple[DeliveryRow, bytes] | None:
    """One delivery (of the store, when given) and its body."""
    sql = f"SELECT {_DCOLS}, body FROM webhook_deliveries WHERE id = ?"
    params: list[Any] = [delivery_id]
    if store_id is not None:
        sql += " AND store_id = ?"
        params.append(store_id)
    row = conn.one(sql, params)
    return None if row is None else (_delivery(row), bytes(row[13]))


def attempts(conn: Conn, delivery_id: str) -> list[AttemptRow]:
    """Every attempt of a delivery, oldest first."""
    return [
        AttemptRow._make(r)
        for r in conn.all(
            "SELECT attempt, at, status_code, latency_ms, error, response, outcome "
            "FROM webhook_attempts WHERE delivery_id = ? ORDER BY at, id",
            (delivery_id,),
        )
    ]


def status_of(conn: Conn, delivery_id: str, store_id: str | None = None) -> tuple[str, str] | None:
    """(status, endpoint id) of a delivery (of the store, when given)."""
    sql = "SELECT status, endpoint_id FROM webhook_deliveries WHERE id = ?"
    params: list[Any] = [delivery_id]
    if store_id is not None:
        sql += " AND store_id = ?"
        params.append(store_id)
    row = conn.one(sql, params)
    return None if row is None else (row[0], row[1])


_REPLAY = (
    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
    "claimed_until = NULL, claim_token = NULL, finished_at = NULL, "
    "replays = replays + 1, updated_at = ? WHERE "
)


def replay(conn: Conn, delivery_id: str, now: int) -> None:
    """A `failed` or `dead` delivery back to `pending`, due now, with a fresh attempt count."""
    conn.execute(_REPLAY + "id = ? AND status IN ('failed', 'dead')", (now, now, delivery_id))


def replay_all(
    conn: Conn, store_id: str, statuses: Sequence[str], endpoint_id: str | None, now: int
) -> list[str]:
    """Replay the store's deliveries in `statuses` (of one endpoint, when given); give the
    endpoint of each delivery replayed."""
    marks = ", ".join("?" for _ in statuses)
    sql = _REPLAY + f"store_id = ? AND status IN ({marks})"
    params: list[Any] = [now, now, store_id, *statuses]
    if endpoint_id is not None:
        sql += " AND endpoint_id = ?"
        params.append(endpoint_id)
    return [r[1] for r in conn.all(sql + " RETURNING id, endpoint_id", params)]


def counts(conn: Conn, store_id: str) -> dict[str, int]:
    """The store's deliveries by status (statuses with none are absent)."""
    return {
        status: int(n)
        for status, n in conn.all(
            "SELECT status, COUNT(*) FROM webhook_deliveries WHERE store_id = ? GROUP BY status",
            (store_id,),
        )
    }


def finished_before(conn: Conn, statuses: Sequence[str], before: int, limit: int) -> list[str]:
    """Up to `limit` deliveries in `statuses` finished before `before`, oldest first."""
    marks = ", ".join("?" for _ in statuses)
    return [
        r[0]
        for r in conn.all(
            f"SELECT id FROM webhook_deliveries WHERE status IN ({marks}) AND finished_at < ? "
            "ORDER BY finished_at LIMIT ?",
            (*statuses, before, limit),
        )
    ]


def delete(conn: Conn, delivery_ids: list[str]) -> None:
    """Delete deliveries with their attempts."""
    for start in range(0, len(delivery_ids), 200):
        chunk = delivery_ids[start : start + 200]
        qs = ", ".join("?" for _ in chunk)
        conn.execute(f"DELETE FROM webhook_attempts WHERE delivery_id IN ({qs})", chunk)
        conn.execute(f"DELETE FROM webhook_deliveries WHERE id IN ({qs})", chunk)
