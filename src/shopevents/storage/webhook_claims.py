"""Webhook delivery claims and results in storage: the next claimable delivery of an endpoint
(the partial index `webhook_deliveries_next`), claims (compare-and-set with a lease and a
token), an attempt's result and the attempt log. The rules are in `webhooks.claims` and
`webhooks.attempts`.
"""

from __future__ import annotations

from typing import NamedTuple

from shopevents.storage.database import Conn


class ClaimedRow(NamedTuple):
    id: str
    endpoint_id: str
    store_id: str
    topic: str
    body: bytes
    attempts: int


# A pending delivery that is due and not claimed, with no earlier pending delivery for the
# same contact on the same endpoint (an index probe on webhook_deliveries_order).
_CLAIMABLE = (
    "d.endpoint_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ? "
    "AND (d.claimed_until IS NULL OR d.claimed_until < ?) "
    "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id "
    "AND e.order_key = d.order_key AND e.status = 'pending' AND e.outbox_id < d.outbox_id)"
)
NEXT_DELIVERY_SQL = (
    "SELECT d.id FROM webhook_deliveries d WHERE "
    + _CLAIMABLE
    + " ORDER BY d.next_attempt_at, d.outbox_id, d.id LIMIT 1"
)


def next_delivery(conn: Conn, endpoint_id: str, now: int) -> str | None:
    """The endpoint's first claimable delivery in index order (due time, outbox order)."""
    return conn.scalar(NEXT_DELIVERY_SQL, (endpoint_id, now, now))


def claim(conn: Conn, delivery_id: str, token: str, now: int, until: int) -> ClaimedRow | None:
    """Claim a pending delivery whose claim (if any) has run out, until `until`."""
    row = conn.one(
        "UPDATE webhook_deliveries SET claimed_until = ?, claim_token = ?, updated_at = ? "
        "WHERE id = ? AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?) "
        "RETURNING id, endpoint_id, store_id, topic, body, attempts",
        (until, token, now, delivery_id, now),
    )
    if row is None:
        return None
    return ClaimedRow(row[0], row[1], row[2], row[3], bytes(row[4]), int(row[5]))


def endpoint_of(conn: Conn, delivery_id: str, store_id: str | None = None) -> str | None:
    """The endpoint a delivery belongs to (of the store, when given); None: no such delivery."""
    if store_id is None:
        found = conn.scalar(
            "SELECT endpoint_id FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        )
    else:
        found = conn.scalar(
            "SELECT endpoint_id FROM webhook_deliveries WHERE id = ? AND store_id = ?",
            (delivery_id, store_id),
        )
    return None if found is None else str(found)


class Attempt(NamedTuple):
    """One attempt to log; `outcome` is the delivery's status after it, or `superseded`."""

    delivery_id: str
    endpoint_id: str
    at: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response: str | None
    attempt: int
    outcome: str


def finish_attempt(
    conn: Conn,
    delivery_id: str,
    token: str,
    *,
    status: str,
    attempts: int,
    next_attempt_at: int | None,
    last_status: int | None,
    last_error: str | None,
    now: int,
    finished_at: int | None,
) -> bool:
    """Record an attempt's result on a delivery still claimed under `token`; False when the
    claim was lost."""
    got = conn.one(
        "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
        "claimed_until = NULL, claim_token = NULL, last_status = ?, last_error = ?, "
        "updated_at = ?, finished_at = ? "
        "WHERE id = ? AND claim_token = ? AND status = 'pending' RETURNING id",
        (
            status,
            attempts,
            next_attempt_at,
            last_status,
            last_error,
            now,
            finished_at,
            delivery_id,
            token,
        ),
    )
    return got is not None


def exists(conn: Conn, delivery_id: str) -> bool:
    return conn.scalar("SELECT 1 FROM webhook_deliveries WHERE id = ?", (delivery_id,)) is not None


def log_attempt(conn: Conn, attempt: Attempt) -> None:
    conn.execute(
        "INSERT INTO webhook_attempts (delivery_id, endpoint_id, at, status_code, latency_ms, "
        "error, response, attempt, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        attempt,
    )
