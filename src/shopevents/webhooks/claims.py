"""Claims: a worker takes a due delivery for one attempt.

Claims are compare-and-set updates with a lease (`claimed_until`) and a token that the
result must present (`webhooks.attempts`), so several workers are safe and a worker that
died mid-delivery only delays that delivery until its lease runs out. An endpoint has a
lease too: at most one delivery per endpoint is in flight at once, across every worker.
Deliveries that carry a contact (`order_key`) go out in outbox order per endpoint and
contact: a later one waits while an earlier one for the same contact is pending.

Every claim step is index-driven, so it costs the same at 1 or 1,000,000 pending
deliveries: each endpoint keeps `next_due_at` (when its earliest pending delivery falls due,
kept up to date by dispatch, ping, record and replay), the endpoints to serve are a range of
the `webhook_endpoints_due` index, and an endpoint's next delivery is the first claimable
entry of its slice of the partial index `webhook_deliveries_next` (pending rows by
endpoint, due time, outbox order), with one index probe per entry for the per-contact order.
"""

from __future__ import annotations

import msgspec

from shopevents.storage import webhook_claims, webhook_leases
from shopevents.storage.database import Conn

RECHECK_SECONDS = 60.0
"""How soon an endpoint is looked at again when its due deliveries all wait behind an
earlier one of the same contact (the earlier one's result brings it forward anyway)."""


class Claimed(msgspec.Struct, kw_only=True):
    """A delivery claimed for one attempt."""

    id: str
    endpoint_id: str
    store_id: str
    url: str
    secret: str
    topic: str
    body: bytes
    attempts: int
    token: str


def due_endpoints(conn: Conn, now: int, limit: int) -> list[str]:
    """Enabled, unleased endpoints with a delivery due, most overdue first: a range over the
    endpoints' `next_due_at` index, whatever the number of pending deliveries."""
    return webhook_leases.due_endpoints(conn, now, limit)


def _set_idle(conn: Conn, endpoint_id: str, now: int) -> None:
    """Nothing of the endpoint can be claimed now: it is due again at its next later
    delivery, or (when due ones wait behind an earlier one of their contact, or are held by
    an expiring claim) after RECHECK_SECONDS at most."""
    first = webhook_leases.first_pending(conn, endpoint_id)
    due: int | None
    if first is None or first > now:
        due = first
    else:
        later = webhook_leases.first_pending(conn, endpoint_id, after=now)
        recheck = now + int(RECHECK_SECONDS * 1_000_000)
        due = recheck if later is None else min(later, recheck)
    webhook_leases.set_next_due(conn, endpoint_id, due)


def release_endpoint(conn: Conn, endpoint_id: str, token: str) -> None:
    webhook_leases.release_endpoint(conn, endpoint_id, token)


def _claimed(row: webhook_claims.ClaimedRow, lease: webhook_leases.Lease, token: str) -> Claimed:
    return Claimed(
        id=row.id,
        endpoint_id=row.endpoint_id,
        store_id=row.store_id,
        url=lease.url,
        secret=lease.secret,
        topic=row.topic,
        body=row.body,
        attempts=row.attempts,
        token=token,
    )


def claim_next(conn: Conn, endpoint_id: str, token: str, now: int, lease_us: int) -> Claimed | None:
    """Claim the next due delivery of one endpoint, taking (or renewing) the endpoint's lease
    under `token`. None, with the endpoint's lease given back, when nothing is due."""
    with conn.transaction():
        until = now + lease_us
        lease = webhook_leases.lease_endpoint(conn, endpoint_id, token, now, until)
        if lease is None:
            return None
        # The endpoint's lease (held above) keeps other workers off its deliveries, so the
        # first claimable one in index order is ours to take.
        found = webhook_claims.next_delivery(conn, endpoint_id, now)
        if found is not None:
            row = webhook_claims.claim(conn, found, token, now, until)
            if row is not None:
                return _claimed(row, lease, token)
        _set_idle(conn, endpoint_id, now)
        webhook_leases.release_endpoint(conn, endpoint_id, token)
        return None


def claim_delivery(
    conn: Conn, delivery_id: str, token: str, now: int, lease_us: int
) -> Claimed | None:
    """Claim one given delivery if it is pending and its endpoint is free (for `ping`)."""
    with conn.transaction():
        endpoint_id = webhook_claims.endpoint_of(conn, delivery_id)
        if endpoint_id is None:
            return None
        until = now + lease_us
        lease = webhook_leases.lease_endpoint(conn, endpoint_id, token, now, until)
        if lease is None:
            return None
        row = webhook_claims.claim(conn, delivery_id, token, now, until)
        if row is None:
            webhook_leases.release_endpoint(conn, endpoint_id, token)
            return None
        return _claimed(row, lease, token)
