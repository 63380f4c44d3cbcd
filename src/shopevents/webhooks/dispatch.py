"""The dispatcher: outbox rows fanned out into deliveries, one per subscribed endpoint (stable
delivery id, body frozen as it will be sent), and `ping` deliveries.

Each endpoint keeps `next_due_at` (when its earliest pending delivery falls due), brought
forward here as deliveries are written (`webhooks.claims` reads it). The dispatcher writes
at most FANOUT_BUDGET deliveries per transaction, so a store with many endpoints cannot hold
the shared writer for long.
"""

from __future__ import annotations

from typing import Any

from shopevents.ids import delivery_id, ping_delivery_id
from shopevents.jsoncodec import dumpb, loads
from shopevents.storage import webhook_dispatch, webhook_leases
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

FANOUT_BUDGET = 500
"""Deliveries written per dispatch transaction at most (the writer is shared with ingest)."""


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
    rows = webhook_dispatch.take_outbox(conn, limit)
    if not rows:
        return 0
    subscribers: dict[str, list[webhook_dispatch.Subscriber]] = {}
    inserts: list[webhook_dispatch.NewDelivery] = []
    done: list[int] = []
    partial: tuple[int, str] | None = None
    room = max(1, budget)
    for row in rows:
        store_id, topic, after = row.store_id, row.topic, row.fanout_after
        if store_id not in subscribers:
            subscribers[store_id] = webhook_dispatch.subscribers(conn, store_id)
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
                    webhook_dispatch.NewDelivery(
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
        webhook_dispatch.insert(conn, inserts)
        webhook_leases.mark_due(conn, sorted({i.endpoint_id for i in inserts}), now)
    if done:
        webhook_dispatch.mark_dispatched(conn, done, now)
    if partial is not None:
        webhook_dispatch.set_fanout_after(conn, *partial)
    return len(done) + (1 if partial is not None else 0)


def outbox_waiting(conn: Conn) -> bool:
    """True when some outbox row waits to be dispatched (a cheap read before the write)."""
    return webhook_dispatch.outbox_waiting(conn)


def enqueue_ping(conn: Conn, endpoint_id: str, store_id: str, now: int) -> str:
    """A `ping` delivery to one endpoint (whatever its topics), due now; give its id."""
    did = ping_delivery_id()
    data = dumpb({"endpointId": endpoint_id, "message": "ping from shopevents"})
    body = build_body(did, "ping", now, store_id, data)
    webhook_dispatch.insert(
        conn,
        [
            webhook_dispatch.NewDelivery(
                did, endpoint_id, store_id, "ping", body, now, now, now, None, now, None
            )
        ],
    )
    webhook_leases.mark_due(conn, [endpoint_id], now)
    return did
