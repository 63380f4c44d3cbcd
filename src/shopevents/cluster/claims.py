"""The purchase authority of cluster mode: which purchaseIds a store has, with the fingerprint
of each one's first record (`purchase_claims`, migration 1200_cluster).

A collector claims the accepted purchase events of a request before it answers, in one
statement: a purchaseId claimed now is `accepted`; one claimed before (by a collector, or by
the ledger's trigger for purchases from imports or the embedded mode) is a `duplicate` with
the same fingerprint (`purchases.fingerprint`) and a `conflict` with another. The verdicts
travel with the message, and the processor applies them as decided. A purchase sent to the
REST API is claimed the same way before the ledger records it (`claim_one`), so its verdict
agrees with the collectors' even before a processor applied their purchase."""

from __future__ import annotations

from shopevents.domain import purchases
from shopevents.schema import models as m
from shopevents.storage import purchase_claims
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
    new = purchase_claims.insert(conn, store_id, first, now)
    held = purchase_claims.held(conn, store_id, [pid for pid in first if pid not in new])
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


def claim_one(conn: Conn, store_id: str, purchase_id: str, fp: str, now: int) -> str | None:
    """The verdict on one purchase from the claims, where they are complete (PostgreSQL:
    every collector's and the ledger's), else None (the ledger alone decides)."""
    if not purchase_claims.complete(conn):
        return None
    return claim(conn, store_id, [(0, purchase_id, fp)], now)[0]


def release(conn: Conn, store_id: str, items: Wanted) -> None:
    """Give back the claims a request made when JetStream did not acknowledge it: each
    claim with the request's fingerprint, unless its purchase is in the ledger."""
    purchase_claims.release(conn, store_id, [(pid, fp) for _, pid, fp in items])
