"""Webhook endpoints in storage: rows, the store lock taken before counting them, and the
figures of their deliveries and attempts. Checks and views are in `webhooks.endpoints`."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.database import Conn


class Endpoint(msgspec.Struct, kw_only=True):
    id: str
    store_id: str
    url: str
    topics: list[str]
    enabled: bool
    description: str
    created_at: int


class AttemptFigures(NamedTuple):
    """An endpoint's attempts since some instant: how many, how many failed, mean latency."""

    endpoint_id: str
    total: int
    failed: int
    mean_latency_ms: float | None


class LastAttempt(NamedTuple):
    at: int
    status_code: int | None
    error: str | None


_COLS = "id, store_id, url, topics, enabled, description, created_at"


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row[0],
        store_id=row[1],
        url=row[2],
        topics=loads(row[3]) or [],
        enabled=bool(row[4]),
        description=row[5] or "",
        created_at=int(row[6]),
    )


def count(conn: Conn, store_id: str) -> int:
    return int(
        conn.scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE store_id = ?", (store_id,)) or 0
    )


_LOCK_STORE_SQL = {
    "sqlite": None,  # one writer at a time: nothing to lock
    "postgres": "SELECT 1 FROM stores WHERE id = ? FOR UPDATE",
}


def lock_store(conn: Conn, store_id: str) -> None:
    """Hold the store's row for the transaction: of two registrations for one store at once,
    the second waits, then counts."""
    sql = _LOCK_STORE_SQL[conn.dialect]
    if sql is not None:
        conn.execute(sql, (store_id,))


def insert(conn: Conn, endpoint: Endpoint, secret: str, now: int) -> None:
    conn.execute(
        "INSERT INTO webhook_endpoints (id, store_id, url, secret, topics, enabled, created_at, description, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            endpoint.id,
            endpoint.store_id,
            endpoint.url,
            secret,
            dumps(endpoint.topics),
            1 if endpoint.enabled else 0,
            endpoint.created_at,
            endpoint.description,
            now,
        ),
    )


def get(conn: Conn, endpoint_id: str, store_id: str | None = None) -> Endpoint | None:
    """One endpoint (only if it belongs to `store_id`, when given)."""
    if store_id is None:
        row = conn.one(f"SELECT {_COLS} FROM webhook_endpoints WHERE id = ?", (endpoint_id,))
    else:
        row = conn.one(
            f"SELECT {_COLS} FROM webhook_endpoints WHERE id = ? AND store_id = ?",
            (endpoint_id, store_id),
        )
    return _endpoint(row) if row else None


def of_store(conn: Conn, store_id: str) -> list[Endpoint]:
    """The store's endpoints, oldest first."""
    return [
        _endpoint(r)
        for r in conn.all(
            f"SELECT {_COLS} FROM webhook_endpoints WHERE store_id = ? ORDER BY created_at, id",
            (store_id,),
        )
    ]


def secret(conn: Conn, endpoint_id: str) -> str | None:
    return conn.scalar("SELECT secret FROM webhook_endpoints WHERE id = ?", (endpoint_id,))


def delete(conn: Conn, endpoint_id: str) -> None:
    """Delete an endpoint with its deliveries and their attempts."""
    conn.execute("DELETE FROM webhook_attempts WHERE endpoint_id = ?", (endpoint_id,))
    conn.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = ?", (endpoint_id,))
    conn.execute("DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,))


def set_enabled(
    conn: Conn, endpoint_id: str, enabled: bool, now: int, store_id: str | None = None
) -> bool:
    """Pause or resume an endpoint (of the store, when given); False if there is none."""
    sql = "UPDATE webhook_endpoints SET enabled = ?, updated_at = ? WHERE id = ?"
    params: list[Any] = [1 if enabled else 0, now, endpoint_id]
    if store_id is not None:
        sql += " AND store_id = ?"
        params.append(store_id)
    return conn.one(sql + " RETURNING id", params) is not None


def delivery_counts(conn: Conn, endpoint_ids: list[str]) -> list[tuple[str, str, int]]:
    """(endpoint id, status, deliveries) of the endpoints."""
    marks = ", ".join("?" for _ in endpoint_ids)
    return [
        (eid, status, int(n))
        for eid, status, n in conn.all(
            "SELECT endpoint_id, status, COUNT(*) FROM webhook_deliveries "
            f"WHERE endpoint_id IN ({marks}) GROUP BY endpoint_id, status",
            endpoint_ids,
        )
    ]


def attempt_figures(conn: Conn, endpoint_ids: list[str], since: int) -> list[AttemptFigures]:
    """The endpoints' attempts at or after `since` (endpoints without any are absent)."""
    marks = ", ".join("?" for _ in endpoint_ids)
    return [
        AttemptFigures(eid, int(total), int(failed or 0), None if mean is None else float(mean))
        for eid, total, failed, mean in conn.all(
            "SELECT endpoint_id, COUNT(*), SUM(CASE WHEN outcome = 'delivered' THEN 0 ELSE 1 END), "
            f"AVG(latency_ms) FROM webhook_attempts WHERE endpoint_id IN ({marks}) AND at >= ? "
            "GROUP BY endpoint_id",
            [*endpoint_ids, since],
        )
    ]


def last_attempt(conn: Conn, endpoint_id: str) -> LastAttempt | None:
    row = conn.one(
        "SELECT at, status_code, error FROM webhook_attempts WHERE endpoint_id = ? "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (endpoint_id,),
    )
    return None if row is None else LastAttempt._make(row)
