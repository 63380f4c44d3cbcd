"""Purchase adjustments as stored: applied ones (`purchase_adjustments`), those waiting for
their purchase (`pending_adjustments`) and those refused when it came
(`refused_adjustments`), with what of the purchase they need."""

from __future__ import annotations

from typing import Any

import msgspec

from shopevents.jsoncodec import loads
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement


class PurchaseRef(msgspec.Struct):
    """What an adjustment needs of its purchase (`data`: the purchase's JSON, when read)."""

    row: int
    total: int
    currency: str
    purchased_at: int
    source_type: str | None
    source_name: str | None
    payment_method: str | None
    contact_id: str | None
    data: Any = None


_PURCHASE = Statement(
    "SELECT id, total_price, currency, purchased_at, source_type, source_name, payment_method, "
    "contact_id, data FROM purchases WHERE store_id = ? AND purchase_id = ?"
)


def purchase(conn: Conn, store_id: str, purchase_id: str) -> PurchaseRef | None:
    row = conn.one(_PURCHASE, (store_id, purchase_id))
    if row is None:
        return None
    return PurchaseRef(
        int(row[0]),
        int(row[1]),
        row[2],
        int(row[3]),
        source_type=row[4],
        source_name=row[5],
        payment_method=row[6],
        contact_id=row[7],
        data=loads(row[8]),
    )


class AppliedRow(msgspec.Struct):
    kind: str
    amount: int
    lines: Any  # [{"productId", "quantity", "amount"}] or None


_APPLIED = Statement(
    "SELECT kind, amount, lines FROM purchase_adjustments WHERE purchase_row = ? ORDER BY id"
)


def applied(conn: Conn, purchase_row: int) -> list[AppliedRow]:
    """The adjustments applied to a purchase, in the order they were."""
    return [AppliedRow(k, int(a), loads(x)) for k, a, x in conn.all(_APPLIED, (purchase_row,))]


_FINGERPRINT = {
    table: Statement(
        f"SELECT fingerprint FROM {table} "
        "WHERE store_id = ? AND purchase_id = ? AND adjustment_id = ?"
    )
    for table in ("purchase_adjustments", "pending_adjustments")
}


def fingerprint(conn: Conn, store_id: str, purchase_id: str, adjustment_id: str) -> str | None:
    """The fingerprint of the adjustment as recorded (applied or pending), if it is."""
    for stmt in _FINGERPRINT.values():
        fp = conn.scalar(stmt, (store_id, purchase_id, adjustment_id))
        if fp is not None:
            return str(fp)
    return None


class AdjustmentWrite(msgspec.Struct):
    """An adjustment's row, pending or applied (`amount`: millionths, None for a pending
    refund by lines or cancellation; `lines`: JSON text)."""

    store_id: str
    purchase_id: str
    adjustment_id: str
    kind: str
    adjusted_at: int
    received_at: int
    amount: int | None
    lines: str | None
    reason: str | None
    channel: str
    fingerprint: str


_PENDING = Insert(
    "pending_adjustments",
    "store_id, purchase_id, adjustment_id, kind, adjusted_at, received_at, amount, lines, "
    "reason, channel, fingerprint",
)


def add_pending(conn: Conn, a: AdjustmentWrite) -> None:
    """An adjustment waiting for its purchase."""
    conn.execute(_PENDING, msgspec.structs.astuple(a))


_APPLY = Insert(
    "purchase_adjustments",
    "store_id, purchase_id, adjustment_id, purchase_row, kind, adjusted_at, received_at, "
    "amount, currency, purchased_at, source_type, source_name, payment_method, lines, reason, "
    "channel, fingerprint",
)


def add_applied(conn: Conn, p: PurchaseRef, a: AdjustmentWrite) -> None:
    conn.execute(
        _APPLY,
        (
            a.store_id,
            a.purchase_id,
            a.adjustment_id,
            p.row,
            a.kind,
            a.adjusted_at,
            a.received_at,
            a.amount,
            p.currency,
            p.purchased_at,
            p.source_type,
            p.source_name,
            p.payment_method,
            a.lines,
            a.reason,
            a.channel,
            a.fingerprint,
        ),
    )


_PENDING_IDS = Statement("SELECT DISTINCT purchase_id FROM pending_adjustments WHERE store_id = ?")


def pending_purchase_ids(conn: Conn, store_id: str) -> set[str]:
    """The purchaseIds the store's pending adjustments wait for."""
    return {str(r[0]) for r in conn.all(_PENDING_IDS, (store_id,))}


class PendingRow(msgspec.Struct):
    id: int
    adjustment_id: str
    kind: str
    adjusted_at: int
    amount: int | None
    lines: Any  # [[productId, quantity]] or None
    reason: str | None
    channel: str
    fingerprint: str


_WAITING = Statement(
    "SELECT id, adjustment_id, kind, adjusted_at, amount, lines, reason, channel, fingerprint "
    "FROM pending_adjustments WHERE store_id = ? AND purchase_id = ? "
    "ORDER BY CASE WHEN kind = 'cancellation' THEN 1 ELSE 0 END, adjusted_at, adjustment_id"
)


def waiting(conn: Conn, store_id: str, purchase_id: str) -> list[PendingRow]:
    """The adjustments waiting for this purchase: refunds first, each kind in the order made."""
    return [
        PendingRow(
            int(r[0]),
            r[1],
            r[2],
            int(r[3]),
            None if r[4] is None else int(r[4]),
            None if r[5] is None else loads(r[5]),
            r[6],
            r[7],
            r[8],
        )
        for r in conn.all(_WAITING, (store_id, purchase_id))
    ]


_REFUSED = Insert(
    "refused_adjustments",
    ("store_id", "purchase_id", "adjustment_id", "received_at", "reason", "data"),
)
_DROP_PENDING = Statement("DELETE FROM pending_adjustments WHERE id = ?")


def refuse(
    conn: Conn, store_id: str, purchase_id: str, adjustment_id: str, at: int, reason: str, data: str
) -> None:
    """Keep an adjustment that no longer fitted its purchase when it came (`data`: JSON)."""
    conn.execute(_REFUSED, (store_id, purchase_id, adjustment_id, at, reason, data))


def drop_pending(conn: Conn, pending_id: int) -> None:
    conn.execute(_DROP_PENDING, (pending_id,))
