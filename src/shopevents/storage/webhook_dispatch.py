"""Webhook dispatch in storage: the outbox rows waiting for dispatch and the pending
deliveries written from them. The rules are in `webhooks.dispatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from shopevents.jsoncodec import loads
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


INSERT = (
    "INSERT INTO webhook_deliveries (id, endpoint_id, store_id, topic, body, status, attempts, "
    "next_attempt_at, created_at, updated_at, outbox_id, occurred_at, order_key) "
    "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)
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
