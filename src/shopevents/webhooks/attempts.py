"""Recording an attempt: its outcome decides the delivery's next status (`delivered`, `failed`
for a permanent failure, `pending` again after the retry policy's wait (`webhooks.backoff`),
or `dead` after the last attempt of the schedule), and the attempt goes into the log.

After a transient failure the endpoint's lease is kept for a pause (the receiver's
Retry-After, or the failed delivery's wait up to a minute), so a failing endpoint is probed,
not flooded.
"""

from __future__ import annotations

import random

import msgspec

from shopevents.storage import webhook_claims, webhook_leases
from shopevents.storage.database import Conn
from shopevents.webhooks import backoff
from shopevents.webhooks.claims import Claimed

RESPONSE_LIMIT = 1000
ERROR_LIMIT = 500
ENDPOINT_PAUSE_SECONDS = 60.0


class Outcome(msgspec.Struct, kw_only=True):
    """What one attempt gave. `kind`: delivered, retry (transient) or failed (permanent)."""

    kind: str
    at: int
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None


def _set_next_due(conn: Conn, endpoint_id: str, not_before: int | None = None) -> None:
    """Set the endpoint's `next_due_at` from its earliest pending delivery (None: none)."""
    due = webhook_leases.first_pending(conn, endpoint_id)
    if due is not None and not_before is not None:
        due = max(due, not_before)
    webhook_leases.set_next_due(conn, endpoint_id, due)


def record(
    conn: Conn,
    claimed: Claimed,
    outcome: Outcome,
    now: int,
    rng: random.Random | None = None,
) -> str | None:
    """Record one attempt's result; give the delivery's new status, or None when the claim
    was lost (its lease ran out and another worker took it: the attempt is still logged)."""
    with conn.transaction():
        webhook_leases.lock_endpoint(conn, claimed.endpoint_id)
        attempt = claimed.attempts + 1
        next_at: int | None = None
        finished: int | None = now
        if outcome.kind == "delivered":
            status = "delivered"
        elif outcome.kind == "failed":
            status = "failed"
        elif attempt >= backoff.MAX_ATTEMPTS:
            status = "dead"
        else:
            status = "pending"
            finished = None
            delay = outcome.retry_after
            if delay is None:
                delay = backoff.retry_delay(attempt, rng) or float(backoff.SCHEDULE[-1])
            next_at = now + int(delay * 1_000_000)
        error = outcome.error[:ERROR_LIMIT] if outcome.error else None
        got = webhook_claims.finish_attempt(
            conn,
            claimed.id,
            claimed.token,
            status=status,
            attempts=attempt,
            next_attempt_at=next_at,
            last_status=outcome.status_code,
            last_error=error,
            now=now,
            finished_at=finished,
        )
        if outcome.kind == "retry" and got:
            # The endpoint is failing: hold all its deliveries back for a while (what the
            # receiver's Retry-After asks for, else this delivery's wait, at most a minute)
            # instead of sending the next one into the same failure.
            # In microseconds throughout: a round trip through float seconds could end the
            # pause a microsecond before the delivery falls due.
            longest = int(ENDPOINT_PAUSE_SECONDS * 1_000_000)
            if outcome.retry_after is not None:
                pause_us = int(outcome.retry_after * 1_000_000)
            else:
                pause_us = min(next_at - now, longest) if next_at is not None else longest
            webhook_leases.pause_endpoint(conn, claimed.endpoint_id, now + pause_us)
            _set_next_due(conn, claimed.endpoint_id, not_before=now + pause_us)
        elif got:
            _set_next_due(conn, claimed.endpoint_id)
        if got or webhook_claims.exists(conn, claimed.id):
            webhook_claims.log_attempt(
                conn,
                webhook_claims.Attempt(
                    delivery_id=claimed.id,
                    endpoint_id=claimed.endpoint_id,
                    at=outcome.at,
                    status_code=outcome.status_code,
                    latency_ms=outcome.latency_ms,
                    error=error,
                    response=outcome.response[:RESPONSE_LIMIT] if outcome.response else None,
                    attempt=attempt,
                    outcome=status if got else "superseded",
                ),
            )
        return status if got else None
