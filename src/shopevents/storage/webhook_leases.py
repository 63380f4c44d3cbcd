"""Webhook endpoints' due times and leases in storage: when an endpoint's next pending
delivery falls due (`next_due_at`, the `webhook_endpoints_due` index), and the lease that
lets one worker at a time deliver to it. The rules are in `webhooks.claims` and
`webhooks.attempts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from shopevents.storage.database import Conn


def mark_due(conn: Conn, endpoint_ids: Iterable[str], at: int) -> None:
    """The endpoints have a delivery due at `at`: bring their `next_due_at` forward to it."""
    wanted = list(endpoint_ids)
    for start in range(0, len(wanted), 200):
        test, ids = conn.any_of(wanted[start : start + 200])
        conn.execute(
            "UPDATE webhook_endpoints SET next_due_at = ? "
            f"WHERE id {test} AND (next_due_at IS NULL OR next_due_at > ?)",
            (at, *ids, at),
        )


DUE_ENDPOINTS_SQL = (
    "SELECT id FROM webhook_endpoints WHERE enabled = 1 AND next_due_at <= ? "
    "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_due_at LIMIT ?"
)


def due_endpoints(conn: Conn, now: int, limit: int) -> list[str]:
    """Enabled, unleased endpoints with a delivery due, most overdue first (a range over the
    endpoints' `next_due_at` index)."""
    return [r[0] for r in conn.all(DUE_ENDPOINTS_SQL, (now, now, limit))]


_FIRST_PENDING = (
    "SELECT next_attempt_at FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'pending' "
    "ORDER BY next_attempt_at LIMIT 1"
)
_FIRST_LATER = (
    "SELECT next_attempt_at FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'pending' "
    "AND next_attempt_at > ? ORDER BY next_attempt_at LIMIT 1"
)


def first_pending(conn: Conn, endpoint_id: str, after: int | None = None) -> int | None:
    """When the endpoint's earliest pending delivery (later than `after`, if given) is due."""
    if after is None:
        found = conn.scalar(_FIRST_PENDING, (endpoint_id,))
    else:
        found = conn.scalar(_FIRST_LATER, (endpoint_id, after))
    return None if found is None else int(found)


def set_next_due(conn: Conn, endpoint_id: str, due: int | None) -> None:
    conn.execute("UPDATE webhook_endpoints SET next_due_at = ? WHERE id = ?", (due, endpoint_id))


_LOCK_ENDPOINT_SQL = {
    "sqlite": None,  # one writer at a time: nothing to lock
    "postgres": "SELECT 1 FROM webhook_endpoints WHERE id = ? FOR UPDATE",
}


def lock_endpoint(conn: Conn, endpoint_id: str) -> None:
    """Lock the endpoint's row for the transaction, so a dispatch committing meanwhile is
    either seen by the reads that follow or comes after them."""
    sql = _LOCK_ENDPOINT_SQL[conn.dialect]
    if sql is not None:
        conn.execute(sql, (endpoint_id,))


class Lease(NamedTuple):
    """An endpoint leased for one delivery: where to send it and how to sign it."""

    url: str
    secret: str


def lease_endpoint(conn: Conn, endpoint_id: str, token: str, now: int, until: int) -> Lease | None:
    """Take (or renew, under the same token) the endpoint's lease until `until`; None when
    another worker holds it or the endpoint is paused."""
    row = conn.one(
        "UPDATE webhook_endpoints SET claimed_until = ?, claim_token = ? "
        "WHERE id = ? AND enabled = 1 AND (claimed_until IS NULL OR claimed_until <= ? OR claim_token = ?) "
        "RETURNING url, secret",
        (until, token, endpoint_id, now, token),
    )
    return None if row is None else Lease._make(row)


def release_endpoint(conn: Conn, endpoint_id: str, token: str) -> None:
    conn.execute(
        "UPDATE webhook_endpoints SET claimed_until = NULL, claim_token = NULL "
        "WHERE id = ? AND claim_token = ?",
        (endpoint_id, token),
    )


def pause_endpoint(conn: Conn, endpoint_id: str, until: int) -> None:
    """Hold the endpoint's deliveries back until `until` (a lease no worker holds)."""
    conn.execute(
        "UPDATE webhook_endpoints SET claimed_until = ?, claim_token = NULL WHERE id = ?",
        (until, endpoint_id),
    )
