"""Webhook deliveries in storage: the outbox rows waiting for dispatch, deliveries and their
claims (compare-and-set with a lease and a token), the endpoints' leases and due times, and
the attempt log. The rules (what to write, when, which status) are in `webhooks.dispatch`,
`webhooks.claims`, `webhooks.attempts` and `webhooks.delivery_log`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from shopevents.storage.codec import loads
from shopevents.storage.database import Conn


class OutboxRow(NamedTuple):
    id: int
    store_id: str
    topic: str
    occurred_at: int
    payload: Any
    fanout_after: str | None


class Subscriber(NamedTuple):
    endpoint_id: str
    topics: list[str]


class NewDelivery(NamedTuple):
    """A pending delivery due at `next_attempt_at`."""

    id: str
    endpoint_id: str
    store_id: str
    topic: str
    body: bytes
    next_attempt_at: int
    created_at: int
    updated_at: int
    outbox_id: int | None
    occurred_at: int
    order_key: str | None


class Lease(NamedTuple):
    """An endpoint leased for one delivery: where to send it and how to sign it."""

    url: str
    secret: str


class ClaimedRow(NamedTuple):
    id: str
    endpoint_id: str
    store_id: str
    topic: str
    body: bytes
    attempts: int


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


INSERT = (
    "INSERT INTO webhook_deliveries (id, endpoint_id, store_id, topic, body, status, attempts, "
    "next_attempt_at, created_at, updated_at, outbox_id, occurred_at, order_key) "
    "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)

# --- dispatch -------------------------------------------------------------------------------

_WAITING = "SELECT id, store_id, topic, occurred_at, payload, fanout_after FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT ?"
_WAITING_SQL = {
    "sqlite": _WAITING,
    # Two dispatchers at once take different rows.
    "postgres": _WAITING + " FOR UPDATE SKIP LOCKED",
}


def outbox_waiting(conn: Conn) -> bool:
    """True when some outbox row waits to be dispatched."""
    return conn.scalar("SELECT 1 FROM outbox WHERE dispatched_at IS NULL LIMIT 1") is not None


def take_outbox(conn: Conn, limit: int) -> list[OutboxRow]:
    """The oldest undispatched outbox rows, locked for this transaction on PostgreSQL."""
    return [OutboxRow._make(r) for r in conn.all(_WAITING_SQL[conn.dialect], (limit,))]


def subscribers(conn: Conn, store_id: str) -> list[Subscriber]:
    """The store's enabled endpoints with their topics, by id."""
    return [
        Subscriber(r[0], loads(r[1]) or [])
        for r in conn.all(
            "SELECT id, topics FROM webhook_endpoints WHERE store_id = ? AND enabled = 1 "
            "ORDER BY id",
            (store_id,),
        )
    ]


def insert(conn: Conn, rows: Sequence[NewDelivery]) -> None:
    """Write new pending deliveries (one already there with the same id is left alone)."""
    if len(rows) == 1:
        conn.execute(INSERT, rows[0])
    elif rows:
        conn.executemany(INSERT, rows)


def mark_dispatched(conn: Conn, outbox_ids: list[int], at: int) -> None:
    test, ids = conn.any_of(outbox_ids)
    conn.execute(f"UPDATE outbox SET dispatched_at = ? WHERE id {test}", (at, *ids))


def set_fanout_after(conn: Conn, outbox_id: int, endpoint_id: str) -> None:
    """The outbox row was fanned out up to `endpoint_id` (by id): go on after it next time."""
    conn.execute("UPDATE outbox SET fanout_after = ? WHERE id = ?", (endpoint_id, outbox_id))


# --- endpoints' due times and leases --------------------------------------------------------


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


# --- claims and results ---------------------------------------------------------------------

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


# --- the log ----------------------------------------------------------------------------------

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
