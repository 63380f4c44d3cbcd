"""Cluster mode's purchase authority as stored: `purchase_claims`, one row per (store,
purchaseId) with the fingerprint of its first record (migration 1200_cluster).

On PostgreSQL a trigger on the ledger claims every purchase it records (REST API, imports,
the embedded mode), so the claims are complete: `complete` says whether they are. SQLite has
the table without the trigger (cluster mode runs on PostgreSQL only)."""

from __future__ import annotations

from collections.abc import Sequence

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Statement

_CLAIM_MANY = Statement(
    "",
    "INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at) "
    "SELECT %s, x.p, x.f, %s FROM unnest(%s::text[], %s::text[]) AS x(p, f) "
    "ON CONFLICT DO NOTHING RETURNING purchase_id",
)
_CLAIM_ONE = Statement(
    "INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING purchase_id"
)
_RELEASE = Statement(
    "DELETE FROM purchase_claims WHERE store_id = ? AND purchase_id = ? AND fingerprint = ? "
    "AND NOT EXISTS (SELECT 1 FROM purchases WHERE store_id = ? AND purchase_id = ?)"
)


def complete(conn: Conn) -> bool:
    """Whether every purchase of the ledger is claimed (PostgreSQL's trigger)."""
    return conn.dialect == "postgres"


def insert(conn: Conn, store_id: str, first: dict[str, str], now: int) -> set[str]:
    """Claim each purchaseId of `first` (→ fingerprint) not claimed yet; the ones claimed now.
    One statement on PostgreSQL."""
    if conn.dialect == "postgres":
        rows = conn.all(_CLAIM_MANY, (store_id, now, list(first), list(first.values())))
        return {r[0] for r in rows}
    return {
        pid
        for pid, fp in first.items()
        if conn.one(_CLAIM_ONE, (store_id, pid, fp, now)) is not None
    }


def held(conn: Conn, store_id: str, purchase_ids: Sequence[str]) -> dict[str, str]:
    """purchaseId → fingerprint of those of `purchase_ids` claimed."""
    if not purchase_ids:
        return {}
    rows = conn.rows_by_key("purchase_claims", "purchase_id", "fingerprint", store_id, purchase_ids)
    return {r[0]: r[1] for r in rows}


def release(conn: Conn, store_id: str, claimed: Sequence[tuple[str, str]]) -> None:
    """Give back each (purchaseId, fingerprint) claim, unless its purchase is in the ledger."""
    for pid, fp in claimed:
        conn.execute(_RELEASE, (store_id, pid, fp, store_id, pid))
