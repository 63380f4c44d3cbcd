"""Deliveries: the dispatcher (outbox rows to deliveries), claims, results, the log, replay.

States: `pending` (waiting for its first or next attempt), `delivered` (a 2xx came back),
`failed` (a permanent failure: a 4xx other than 408/429, a redirect, an invalid URL or a
blocked address; no retry), `dead` (the last attempt of the schedule failed). `failed` and
`dead` deliveries can be replayed: back to `pending` with a fresh attempt count, same id.

Claims are compare-and-set updates with a lease (`claimed_until`) and a token that the
result must present, so several workers are safe and a worker that died mid-delivery only
delays that delivery until its lease runs out. An endpoint has a lease too: at most one
delivery per endpoint is in flight at once, across every worker; after a transient failure
the endpoint's lease is kept for a pause (the receiver's Retry-After, or the failed
delivery's wait up to a minute), so a failing endpoint is probed, not flooded.
Deliveries that carry a contact (`order_key`) go out in outbox order per endpoint and
contact: a later one waits while an earlier one for the same contact is pending.

Every claim step is index-driven, so it costs the same at 1 or 1,000,000 pending
deliveries: each endpoint keeps `next_due_at` (when its earliest pending delivery falls due,
kept up to date by dispatch, ping, record and replay), the endpoints to serve are a range of
the `webhook_endpoints_due` index, and an endpoint's next delivery is the first claimable
entry of its slice of the partial index `webhook_deliveries_next` (pending rows by
endpoint, due time, outbox order), with one index probe per entry for the per-contact order.
The dispatcher writes at most FANOUT_BUDGET deliveries per transaction, so a store with many
endpoints cannot hold the shared writer for long.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from shopevents.ids import delivery_id, ping_delivery_id
from shopevents.storage import webhook_deliveries as stored
from shopevents.storage.codec import dumpb, loads
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso
from shopevents.webhooks import backoff

STATUSES = ("pending", "delivered", "failed", "dead")
RESPONSE_LIMIT = 1000
ERROR_LIMIT = 500
ENDPOINT_PAUSE_SECONDS = 60.0
FANOUT_BUDGET = 500
"""Deliveries written per dispatch transaction at most (the writer is shared with ingest)."""
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


class Outcome(msgspec.Struct, kw_only=True):
    """What one attempt gave. `kind`: delivered, retry (transient) or failed (permanent)."""

    kind: str
    at: int
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None


def build_body(
    delivery_id: str, topic: str, occurred_at: int, store_id: str, data_json: str | bytes
) -> bytes:
    """`{"id", "topic", "occurredAt", "storeId", "data"}`, with `data` kept byte for byte."""
    head = dumpb(
        {"id": delivery_id, "topic": topic, "occurredAt": iso(occurred_at), "storeId": store_id}
    )
    data = data_json.encode() if isinstance(data_json, str) else bytes(data_json)
    return head[:-1] + b',"data":' + data + b"}"


def _order_key(payload: Any) -> str | None:
    if isinstance(payload, dict):
        contact = payload.get("contactId")
        if isinstance(contact, str) and contact:
            return contact
    return None


def dispatch_outbox(conn: Conn, now: int, limit: int = 200, budget: int = FANOUT_BUDGET) -> int:
    """Fan undispatched outbox rows (up to `limit`) out into one delivery per subscribed
    endpoint, writing at most `budget` deliveries, and mark the rows done. A row whose
    endpoints do not all fit keeps the last endpoint id it reached (`fanout_after`) and
    carries on there next time, so one transaction stays small however many endpoints a
    store has. Run it inside a transaction; give the rows dispatched (plus one when a row
    was only partly fanned out)."""
    rows = stored.take_outbox(conn, limit)
    if not rows:
        return 0
    subscribers: dict[str, list[stored.Subscriber]] = {}
    inserts: list[stored.NewDelivery] = []
    done: list[int] = []
    partial: tuple[int, str] | None = None
    room = max(1, budget)
    for row in rows:
        store_id, topic, after = row.store_id, row.topic, row.fanout_after
        if store_id not in subscribers:
            subscribers[store_id] = stored.subscribers(conn, store_id)
        targets = [
            eid
            for eid, topics in subscribers[store_id]
            if topic in topics and (after is None or eid > after)
        ]
        if targets and room <= 0:
            break
        take = targets[:room]
        room -= len(take)
        outbox_id, occurred_at = int(row.id), int(row.occurred_at)
        if take:
            key = _order_key(loads(row.payload))
            for endpoint_id in take:
                did = delivery_id(outbox_id, endpoint_id)
                body = build_body(did, topic, occurred_at, store_id, row.payload)
                inserts.append(
                    stored.NewDelivery(
                        did,
                        endpoint_id,
                        store_id,
                        topic,
                        body,
                        now,
                        now,
                        now,
                        outbox_id,
                        occurred_at,
                        key,
                    )
                )
        if len(take) < len(targets):
            partial = (outbox_id, take[-1])
            break
        done.append(outbox_id)
    if inserts:
        stored.insert(conn, inserts)
        stored.mark_due(conn, sorted({i.endpoint_id for i in inserts}), now)
    if done:
        stored.mark_dispatched(conn, done, now)
    if partial is not None:
        stored.set_fanout_after(conn, *partial)
    return len(done) + (1 if partial is not None else 0)


def outbox_waiting(conn: Conn) -> bool:
    """True when some outbox row waits to be dispatched (a cheap read before the write)."""
    return stored.outbox_waiting(conn)


def enqueue_ping(conn: Conn, endpoint_id: str, store_id: str, now: int) -> str:
    """A `ping` delivery to one endpoint (whatever its topics), due now; give its id."""
    did = ping_delivery_id()
    data = dumpb({"endpointId": endpoint_id, "message": "ping from shopevents"})
    body = build_body(did, "ping", now, store_id, data)
    stored.insert(
        conn,
        [
            stored.NewDelivery(
                did, endpoint_id, store_id, "ping", body, now, now, now, None, now, None
            )
        ],
    )
    stored.mark_due(conn, [endpoint_id], now)
    return did


# --- claims -------------------------------------------------------------------------------


def due_endpoints(conn: Conn, now: int, limit: int) -> list[str]:
    """Enabled, unleased endpoints with a delivery due, most overdue first: a range over the
    endpoints' `next_due_at` index, whatever the number of pending deliveries."""
    return stored.due_endpoints(conn, now, limit)


def _set_next_due(conn: Conn, endpoint_id: str, not_before: int | None = None) -> None:
    """Set the endpoint's `next_due_at` from its earliest pending delivery (None: none)."""
    due = stored.first_pending(conn, endpoint_id)
    if due is not None and not_before is not None:
        due = max(due, not_before)
    stored.set_next_due(conn, endpoint_id, due)


def _set_idle(conn: Conn, endpoint_id: str, now: int) -> None:
    """Nothing of the endpoint can be claimed now: it is due again at its next later
    delivery, or (when due ones wait behind an earlier one of their contact, or are held by
    an expiring claim) after RECHECK_SECONDS at most."""
    first = stored.first_pending(conn, endpoint_id)
    due: int | None
    if first is None or first > now:
        due = first
    else:
        later = stored.first_pending(conn, endpoint_id, after=now)
        recheck = now + int(RECHECK_SECONDS * 1_000_000)
        due = recheck if later is None else min(later, recheck)
    stored.set_next_due(conn, endpoint_id, due)


def release_endpoint(conn: Conn, endpoint_id: str, token: str) -> None:
    stored.release_endpoint(conn, endpoint_id, token)


def _claimed(row: stored.ClaimedRow, lease: stored.Lease, token: str) -> Claimed:
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
        lease = stored.lease_endpoint(conn, endpoint_id, token, now, until)
        if lease is None:
            return None
        # The endpoint's lease (held above) keeps other workers off its deliveries, so the
        # first claimable one in index order is ours to take.
        found = stored.next_delivery(conn, endpoint_id, now)
        if found is not None:
            row = stored.claim(conn, found, token, now, until)
            if row is not None:
                return _claimed(row, lease, token)
        _set_idle(conn, endpoint_id, now)
        stored.release_endpoint(conn, endpoint_id, token)
        return None


def claim_delivery(
    conn: Conn, delivery_id: str, token: str, now: int, lease_us: int
) -> Claimed | None:
    """Claim one given delivery if it is pending and its endpoint is free (for `ping`)."""
    with conn.transaction():
        endpoint_id = stored.endpoint_of(conn, delivery_id)
        if endpoint_id is None:
            return None
        until = now + lease_us
        lease = stored.lease_endpoint(conn, endpoint_id, token, now, until)
        if lease is None:
            return None
        row = stored.claim(conn, delivery_id, token, now, until)
        if row is None:
            stored.release_endpoint(conn, endpoint_id, token)
            return None
        return _claimed(row, lease, token)


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
        stored.lock_endpoint(conn, claimed.endpoint_id)
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
        got = stored.finish_attempt(
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
            stored.pause_endpoint(conn, claimed.endpoint_id, now + pause_us)
            _set_next_due(conn, claimed.endpoint_id, not_before=now + pause_us)
        elif got:
            _set_next_due(conn, claimed.endpoint_id)
        if got or stored.exists(conn, claimed.id):
            stored.log_attempt(
                conn,
                stored.Attempt(
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


# --- the log ------------------------------------------------------------------------------


def _delivery(row: stored.DeliveryRow, now: int | None = None) -> dict[str, Any]:
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
    rows = stored.deliveries(conn, store_id, endpoint_id, status, limit, offset)
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
        for r in stored.attempts(conn, delivery_id)
    ]


def get_delivery(
    conn: Conn, delivery_id: str, store_id: str | None = None, now: int | None = None
) -> dict[str, Any] | None:
    """One delivery with its body and its attempts."""
    found = stored.delivery(conn, delivery_id, store_id)
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
    found = stored.status_of(conn, delivery_id, store_id)
    if found is None:
        return None
    before, endpoint_id = found
    if before in ("failed", "dead"):
        stored.replay(conn, delivery_id, now)
        stored.mark_due(conn, [endpoint_id], now)
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
    endpoints = stored.replay_all(conn, store_id, statuses, endpoint_id, now)
    stored.mark_due(conn, sorted(set(endpoints)), now)
    return len(endpoints)


def counts(conn: Conn, store_id: str) -> dict[str, int]:
    """Deliveries of the store by status (for the dashboard's badges)."""
    return {**dict.fromkeys(STATUSES, 0), **stored.counts(conn, store_id)}


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
    ids = stored.finished_before(conn, statuses, before, limit)
    stored.delete(conn, ids)
    return len(ids)
