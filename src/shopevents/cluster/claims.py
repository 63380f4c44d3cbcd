"""The purchase authority of cluster mode: which purchaseIds a store has, with the fingerprint
of each one's first record (`purchase_claims`, migration 1200_cluster).

A collector claims the accepted purchase events of a request before it answers, in one
statement: a purchaseId claimed now is `accepted`; one claimed before (by a collector, or by
the ledger's trigger for purchases from the REST API, imports or the embedded mode) is a
`duplicate` with the same fingerprint (`purchases.fingerprint`) and a `conflict` with another.
The verdicts travel with the message, and the processor applies them as decided."""

from __future__ import annotations

from shopevents.domain import purchases
from shopevents.schema import models as m
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

ACCEPTED, DUPLICATE, CONFLICT = "accepted", "duplicate", "conflict"

# (event index, purchaseId, fingerprint) of each accepted purchase event of a request.
Wanted = list[tuple[int, str, str]]


def wanted(store: StoreRecord, events: list[tuple[int, m.PurchaseEvent]]) -> Wanted:
    return [
        (
            i,
            ev.purchase.purchaseId,
            purchases.fingerprint(ev.purchase, ev.purchase.currency or store.currency),
        )
        for i, ev in events
    ]


def claim(conn: Conn, store_id: str, items: Wanted, now: int) -> dict[int, str]:
    """Claim the purchaseIds of `items` for the store; each event's verdict by its index. Run
    inside a write transaction (it commits with it)."""
    if not items:
        return {}
    first: dict[str, str] = {}
    for _, pid, fp in items:
        first.setdefault(pid, fp)
    new = _insert(conn, store_id, first, now)
    others = [pid for pid in first if pid not in new]
    held = (
        dict(conn.rows_by_key("purchase_claims", "purchase_id", "fingerprint", store_id, others))
        if others
        else {}
    )
    verdicts: dict[int, str] = {}
    seen: set[str] = set()
    for index, pid, fp in items:
        if pid in new and pid not in seen:
            verdicts[index] = ACCEPTED
        else:
            claimed = first[pid] if pid in new else held.get(pid, fp)
            verdicts[index] = DUPLICATE if claimed == fp else CONFLICT
        seen.add(pid)
    return verdicts


def _insert(conn: Conn, store_id: str, first: dict[str, str], now: int) -> set[str]:
    """The purchaseIds this statement claimed (the others were claimed before)."""
    if conn.dialect == "postgres":
        rows = conn.all(
            "INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at) "
            "SELECT ?, x.p, x.f, ? FROM unnest(?::text[], ?::text[]) AS x(p, f) "
            "ON CONFLICT DO NOTHING RETURNING purchase_id",
            (store_id, now, list(first), list(first.values())),
        )
        return {r[0] for r in rows}
    new = set()
    for pid, fp in first.items():
        row = conn.one(
            "INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING purchase_id",
            (store_id, pid, fp, now),
        )
        if row is not None:
            new.add(pid)
    return new


def release(conn: Conn, store_id: str, items: Wanted) -> None:
    """Give back the claims a request made when JetStream did not acknowledge it: each
    claim with the request's fingerprint, unless its purchase is in the ledger."""
    for _, pid, fp in items:
        conn.execute(
            "DELETE FROM purchase_claims WHERE store_id = ? AND purchase_id = ? AND fingerprint = ? "
            "AND NOT EXISTS (SELECT 1 FROM purchases WHERE store_id = ? AND purchase_id = ?)",
            (store_id, pid, fp, store_id, pid),
        )
