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


_INSERT = (
    "INSERT INTO webhook_deliveries (id, endpoint_id, store_id, topic, body, status, attempts, "
    "next_attempt_at, created_at, updated_at, outbox_id, occurred_at, order_key) "
    "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)


def outbox_waiting(conn: Conn) -> bool:
    """True when some outbox row waits to be dispatched (a cheap read before the write)."""
    return conn.scalar("SELECT 1 FROM outbox WHERE dispatched_at IS NULL LIMIT 1") is not None


def _mark_due(conn: Conn, endpoint_ids: list[str], at: int) -> None:
    """The endpoints have a delivery due at `at`: bring their `next_due_at` forward to it."""
    for start in range(0, len(endpoint_ids), 200):
        test, ids = conn.any_of(endpoint_ids[start : start + 200])
        conn.execute(
            "UPDATE webhook_endpoints SET next_due_at = ? "
            f"WHERE id {test} AND (next_due_at IS NULL OR next_due_at > ?)",
            (at, *ids, at),
        )


def dispatch_outbox(conn: Conn, now: int, limit: int = 200, budget: int = FANOUT_BUDGET) -> int:
    """Fan undispatched outbox rows (up to `limit`) out into one delivery per subscribed
    endpoint, writing at most `budget` deliveries, and mark the rows done. A row whose
    endpoints do not all fit keeps the last endpoint id it reached (`fanout_after`) and
    carries on there next time, so one transaction stays small however many endpoints a
    store has. Run it inside a transaction; give the rows dispatched (plus one when a row
    was only partly fanned out)."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgres" else ""
    rows = conn.all(
        "SELECT id, store_id, topic, occurred_at, payload, fanout_after FROM outbox "
        "WHERE dispatched_at IS NULL ORDER BY id LIMIT ?" + lock,
        (limit,),
    )
    if not rows:
        return 0
    subscribers: dict[str, list[tuple[str, list[str]]]] = {}
    inserts: list[tuple[Any, ...]] = []
    done: list[int] = []
    partial: tuple[int, str] | None = None
    room = max(1, budget)
    for outbox_id, store_id, topic, occurred_at, payload, after in rows:
        if store_id not in subscribers:
            subscribers[store_id] = [
                (r[0], loads(r[1]) or [])
                for r in conn.all(
                    "SELECT id, topics FROM webhook_endpoints WHERE store_id = ? AND enabled = 1 "
                    "ORDER BY id",
                    (store_id,),
                )
            ]
        targets = [
            eid
            for eid, topics in subscribers[store_id]
            if topic in topics and (after is None or eid > after)
        ]
        if targets and room <= 0:
            break
        take = targets[:room]
        room -= len(take)
        if take:
            key = _order_key(loads(payload))
            for endpoint_id in take:
                did = delivery_id(int(outbox_id), endpoint_id)
                body = build_body(did, topic, int(occurred_at), store_id, payload)
                inserts.append(
                    (
                        did,
                        endpoint_id,
                        store_id,
                        topic,
                        body,
                        now,
                        now,
                        now,
                        int(outbox_id),
                        int(occurred_at),
                        key,
                    )
                )
        if len(take) < len(targets):
            partial = (int(outbox_id), take[-1])
            break
        done.append(int(outbox_id))
    if inserts:
        conn.executemany(_INSERT, inserts)
        _mark_due(conn, sorted({i[1] for i in inserts}), now)
    if done:
        test, ids = conn.any_of(done)
        conn.execute(f"UPDATE outbox SET dispatched_at = ? WHERE id {test}", (now, *ids))
    if partial is not None:
        conn.execute("UPDATE outbox SET fanout_after = ? WHERE id = ?", (partial[1], partial[0]))
    return len(done) + (1 if partial is not None else 0)


def enqueue_ping(conn: Conn, endpoint_id: str, store_id: str, now: int) -> str:
    """A `ping` delivery to one endpoint (whatever its topics), due now; give its id."""
    did = ping_delivery_id()
    data = dumpb({"endpointId": endpoint_id, "message": "ping from shopevents"})
    body = build_body(did, "ping", now, store_id, data)
    conn.execute(
        _INSERT,
        (did, endpoint_id, store_id, "ping", body, now, now, now, None, now, None),
    )
    _mark_due(conn, [endpoint_id], now)
    return did


# --- claims -------------------------------------------------------------------------------

# A pending delivery that is due and not claimed, with no earlier pending delivery for the
# same contact on the same endpoint (an index probe on webhook_deliveries_order).
_CLAIMABLE = (
    "d.endpoint_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ? "
    "AND (d.claimed_until IS NULL OR d.claimed_until < ?) "
    "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id "
    "AND e.order_key = d.order_key AND e.status = 'pending' AND e.outbox_id < d.outbox_id)"
)

DUE_ENDPOINTS_SQL = (
    "SELECT id FROM webhook_endpoints WHERE enabled = 1 AND next_due_at <= ? "
    "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_due_at LIMIT ?"
)
NEXT_DELIVERY_SQL = (
    "SELECT d.id FROM webhook_deliveries d WHERE "
    + _CLAIMABLE
    + " ORDER BY d.next_attempt_at, d.outbox_id, d.id LIMIT 1"
)
_FIRST_PENDING = (
    "SELECT next_attempt_at FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'pending' "
    "ORDER BY next_attempt_at LIMIT 1"
)
_FIRST_LATER = (
    "SELECT next_attempt_at FROM webhook_deliveries WHERE endpoint_id = ? AND status = 'pending' "
    "AND next_attempt_at > ? ORDER BY next_attempt_at LIMIT 1"
)


def due_endpoints(conn: Conn, now: int, limit: int) -> list[str]:
    """Enabled, unleased endpoints with a delivery due, most overdue first: a range over the
    endpoints' `next_due_at` index, whatever the number of pending deliveries."""
    return [r[0] for r in conn.all(DUE_ENDPOINTS_SQL, (now, now, limit))]


def _lock_endpoint(conn: Conn, endpoint_id: str) -> None:
    """On PostgreSQL, lock the endpoint's row before reading its pending deliveries to set
    `next_due_at`, so a dispatch committing meanwhile is either seen or comes after."""
    if conn.dialect == "postgres":
        conn.execute("SELECT 1 FROM webhook_endpoints WHERE id = ? FOR UPDATE", (endpoint_id,))


def _set_next_due(conn: Conn, endpoint_id: str, now: int, not_before: int | None = None) -> None:
    """Set the endpoint's `next_due_at` from its earliest pending delivery (None: none)."""
    first = conn.scalar(_FIRST_PENDING, (endpoint_id,))
    due = None if first is None else int(first)
    if due is not None and not_before is not None:
        due = max(due, not_before)
    conn.execute("UPDATE webhook_endpoints SET next_due_at = ? WHERE id = ?", (due, endpoint_id))


def _set_idle(conn: Conn, endpoint_id: str, now: int) -> None:
    """Nothing of the endpoint can be claimed now: it is due again at its next later
    delivery, or (when due ones wait behind an earlier one of their contact, or are held by
    an expiring claim) after RECHECK_SECONDS at most."""
    first = conn.scalar(_FIRST_PENDING, (endpoint_id,))
    due: int | None
    if first is None:
        due = None
    elif int(first) > now:
        due = int(first)
    else:
        later = conn.scalar(_FIRST_LATER, (endpoint_id, now))
        recheck = now + int(RECHECK_SECONDS * 1_000_000)
        due = recheck if later is None else min(int(later), recheck)
    conn.execute("UPDATE webhook_endpoints SET next_due_at = ? WHERE id = ?", (due, endpoint_id))


def _lease_endpoint(conn: Conn, endpoint_id: str, token: str, now: int, until: int) -> Any:
    return conn.one(
        "UPDATE webhook_endpoints SET claimed_until = ?, claim_token = ? "
        "WHERE id = ? AND enabled = 1 AND (claimed_until IS NULL OR claimed_until <= ? OR claim_token = ?) "
        "RETURNING url, secret",
        (until, token, endpoint_id, now, token),
    )


def release_endpoint(conn: Conn, endpoint_id: str, token: str) -> None:
    conn.execute(
        "UPDATE webhook_endpoints SET claimed_until = NULL, claim_token = NULL "
        "WHERE id = ? AND claim_token = ?",
        (endpoint_id, token),
    )


def _claim_row(conn: Conn, delivery_id: str, token: str, now: int, until: int) -> Any:
    return conn.one(
        "UPDATE webhook_deliveries SET claimed_until = ?, claim_token = ?, updated_at = ? "
        "WHERE id = ? AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?) "
        "RETURNING id, endpoint_id, store_id, topic, body, attempts",
        (until, token, now, delivery_id, now),
    )


def _claimed(row: Any, url: str, secret: str, token: str) -> Claimed:
    body = row[4]
    return Claimed(
        id=row[0],
        endpoint_id=row[1],
        store_id=row[2],
        url=url,
        secret=secret,
        topic=row[3],
        body=bytes(body),
        attempts=int(row[5]),
        token=token,
    )


def claim_next(conn: Conn, endpoint_id: str, token: str, now: int, lease_us: int) -> Claimed | None:
    """Claim the next due delivery of one endpoint, taking (or renewing) the endpoint's lease
    under `token`. None, with the endpoint's lease given back, when nothing is due."""
    with conn.transaction():
        until = now + lease_us
        ep = _lease_endpoint(conn, endpoint_id, token, now, until)
        if ep is None:
            return None
        # The endpoint's lease (held above) keeps other workers off its deliveries, so the
        # first claimable one in index order is ours to take.
        found = conn.scalar(NEXT_DELIVERY_SQL, (endpoint_id, now, now))
        if found is not None:
            row = _claim_row(conn, found, token, now, until)
            if row is not None:
                return _claimed(row, ep[0], ep[1], token)
        _set_idle(conn, endpoint_id, now)
        release_endpoint(conn, endpoint_id, token)
        return None


def claim_delivery(
    conn: Conn, delivery_id: str, token: str, now: int, lease_us: int
) -> Claimed | None:
    """Claim one given delivery if it is pending and its endpoint is free (for `ping`)."""
    with conn.transaction():
        endpoint_id = conn.scalar(
            "SELECT endpoint_id FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        )
        if endpoint_id is None:
            return None
        until = now + lease_us
        ep = _lease_endpoint(conn, endpoint_id, token, now, until)
        if ep is None:
            return None
        row = _claim_row(conn, delivery_id, token, now, until)
        if row is None:
            release_endpoint(conn, endpoint_id, token)
            return None
        return _claimed(row, ep[0], ep[1], token)


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
        _lock_endpoint(conn, claimed.endpoint_id)
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
        got = conn.one(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
            "claimed_until = NULL, claim_token = NULL, last_status = ?, last_error = ?, "
            "updated_at = ?, finished_at = ? "
            "WHERE id = ? AND claim_token = ? AND status = 'pending' RETURNING id",
            (
                status,
                attempt,
                next_at,
                outcome.status_code,
                error,
                now,
                finished,
                claimed.id,
                claimed.token,
            ),
        )
        if outcome.kind == "retry" and got is not None:
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
            conn.execute(
                "UPDATE webhook_endpoints SET claimed_until = ?, claim_token = NULL WHERE id = ?",
                (now + pause_us, claimed.endpoint_id),
            )
            _set_next_due(conn, claimed.endpoint_id, now, not_before=now + pause_us)
        elif got is not None:
            _set_next_due(conn, claimed.endpoint_id, now)
        exists = got is not None or (
            conn.scalar("SELECT 1 FROM webhook_deliveries WHERE id = ?", (claimed.id,)) is not None
        )
        if exists:
            response = outcome.response[:RESPONSE_LIMIT] if outcome.response else None
            conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, endpoint_id, at, status_code, latency_ms, "
                "error, response, attempt, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    claimed.id,
                    claimed.endpoint_id,
                    outcome.at,
                    outcome.status_code,
                    outcome.latency_ms,
                    error,
                    response,
                    attempt,
                    status if got is not None else "superseded",
                ),
            )
        return status if got is not None else None


# --- the log ------------------------------------------------------------------------------

_DCOLS = (
    "id, endpoint_id, topic, status, attempts, next_attempt_at, created_at, finished_at, "
    "last_status, last_error, replays, occurred_at, claimed_until"
)


def _delivery(row: Any, now: int | None = None) -> dict[str, Any]:
    return {
        "id": row[0],
        "endpointId": row[1],
        "topic": row[2],
        "status": row[3],
        "attempts": int(row[4]),
        "nextAttemptAt": iso(row[5]) if row[3] == "pending" else None,
        "createdAt": iso(row[6]),
        "finishedAt": iso(row[7]),
        "lastStatusCode": row[8],
        "lastError": row[9],
        "replays": int(row[10] or 0),
        "occurredAt": iso(row[11]),
        "inFlight": bool(
            row[3] == "pending" and row[12] is not None and now is not None and row[12] >= now
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
    return [_delivery(r, now) for r in conn.all(sql, params)]


def delivery_attempts(conn: Conn, delivery_id: str) -> list[dict[str, Any]]:
    """Every attempt of a delivery, oldest first: status code, latency, error, trimmed response."""
    rows = conn.all(
        "SELECT attempt, at, status_code, latency_ms, error, response, outcome "
        "FROM webhook_attempts WHERE delivery_id = ? ORDER BY at, id",
        (delivery_id,),
    )
    return [
        {
            "attempt": r[0],
            "at": iso(r[1]),
            "statusCode": r[2],
            "latencyMs": r[3],
            "error": r[4],
            "response": r[5],
            "outcome": r[6],
        }
        for r in rows
    ]


def get_delivery(
    conn: Conn, delivery_id: str, store_id: str | None = None, now: int | None = None
) -> dict[str, Any] | None:
    """One delivery with its body and its attempts."""
    sql = f"SELECT {_DCOLS}, body FROM webhook_deliveries WHERE id = ?"
    params: list[Any] = [delivery_id]
    if store_id is not None:
        sql += " AND store_id = ?"
        params.append(store_id)
    row = conn.one(sql, params)
    if row is None:
        return None
    out = _delivery(row, now)
    out["body"] = loads(bytes(row[13]))
    out["attemptLog"] = delivery_attempts(conn, delivery_id)
    return out


def replay(conn: Conn, delivery_id: str, now: int, store_id: str | None = None) -> str | None:
    """Put a `failed` or `dead` delivery back to `pending`, due now, with a fresh attempt
    count and the same id. Give its status before (None if there is no such delivery); only
    `failed` and `dead` ones change."""
    sql = "SELECT status FROM webhook_deliveries WHERE id = ?"
    params: list[Any] = [delivery_id]
    if store_id is not None:
        sql += " AND store_id = ?"
        params.append(store_id)
    found = conn.one(sql.replace("SELECT status", "SELECT status, endpoint_id"), params)
    before = None if found is None else found[0]
    if found is not None and before in ("failed", "dead"):
        conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
            "claimed_until = NULL, claim_token = NULL, finished_at = NULL, "
            "replays = replays + 1, updated_at = ? WHERE id = ? AND status IN ('failed', 'dead')",
            (now, now, delivery_id),
        )
        _mark_due(conn, [found[1]], now)
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
    marks = ", ".join("?" for _ in statuses)
    sql = (
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
        "claimed_until = NULL, claim_token = NULL, finished_at = NULL, "
        f"replays = replays + 1, updated_at = ? WHERE store_id = ? AND status IN ({marks})"
    )
    params: list[Any] = [now, now, store_id, *statuses]
    if endpoint_id is not None:
        sql += " AND endpoint_id = ?"
        params.append(endpoint_id)
    replayed = conn.all(sql + " RETURNING id, endpoint_id", params)
    _mark_due(conn, sorted({r[1] for r in replayed}), now)
    return len(replayed)


def counts(conn: Conn, store_id: str) -> dict[str, int]:
    """Deliveries of the store by status (for the dashboard's badges)."""
    out = dict.fromkeys(STATUSES, 0)
    for status, n in conn.all(
        "SELECT status, COUNT(*) FROM webhook_deliveries WHERE store_id = ? GROUP BY status",
        (store_id,),
    ):
        out[status] = int(n)
    return out


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
    marks = ", ".join("?" for _ in statuses)
    ids = [
        r[0]
        for r in conn.all(
            f"SELECT id FROM webhook_deliveries WHERE status IN ({marks}) AND finished_at < ? "
            "ORDER BY finished_at LIMIT ?",
            (*statuses, before, limit),
        )
    ]
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        qs = ", ".join("?" for _ in chunk)
        conn.execute(f"DELETE FROM webhook_attempts WHERE delivery_id IN ({qs})", chunk)
        conn.execute(f"DELETE FROM webhook_deliveries WHERE id IN ({qs})", chunk)
    return len(ids)
