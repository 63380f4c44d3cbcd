"""Purchase adjustments: refunds (by amount, or by lines and quantities: returns) and
cancellations.

An adjustment is recorded once per `(store, purchaseId, adjustmentId)`, forever, exactly like
a purchase: the same content again is a `duplicate`, a different content under the same id a
`conflict` (not applied). A cancellation's adjustmentId is `cancellation`. No adjustment can
take a purchase below zero or refund a line more than was bought: it is refused, with what is
left. An adjustment for a purchase not received yet waits (pending) and is applied when the
purchase arrives, so the order of arrival does not matter.

Amounts are exact integer millionths of the purchase's currency (like purchases). A refund
by lines is worth, for each line, the part of the line's price its quantity stands for, cut
cumulatively (`round(price × refunded_so_far / bought)`, half even) so that refunding a line
in several parts sums to exactly its price; it is capped at what is left of the purchase (a
discounted order). A cancellation takes all that is left.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec

from shopevents.domain import outbox, timeline
from shopevents.jsoncodec import dumps
from shopevents.storage import adjustments as stored
from shopevents.storage.codec import money_from_db, money_to_db
from shopevents.storage.database import Conn

CANCELLATION_ID = "cancellation"
KINDS = ("refund", "cancellation")


class Adjustment(msgspec.Struct, frozen=True):
    """An adjustment as asked for. `amount` (millionths) for a refund by amount; `lines`
    ((productId, quantity) pairs) for a refund by lines; neither for a cancellation."""

    purchase_id: str
    adjustment_id: str
    kind: str
    adjusted_at: int
    amount: int | None = None
    lines: tuple[tuple[str, int], ...] | None = None
    reason: str | None = None


class Refused(Exception):
    """The adjustment cannot be applied; `message` says what is left."""

    def __init__(self, message: str, left: int, lines_left: dict[str, int]) -> None:
        super().__init__(message)
        self.message = message
        self.left = left
        self.lines_left = lines_left


class Line(msgspec.Struct, frozen=True):
    product_id: str
    quantity: int
    price: int  # millionths, the line total


class Applied(msgspec.Struct, frozen=True):
    kind: str
    amount: int
    lines: tuple[tuple[str, int], ...] = ()


# --- the rules, as plain functions ------------------------------------------------------------


def fingerprint(a: Adjustment) -> str:
    """What makes two records of an adjustment the same: kind, amount, lines."""
    lines = sorted(_merge(a.lines or ())) if a.lines is not None else None
    text = dumps([a.kind, a.amount, lines])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _merge(lines: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    out: dict[str, int] = defaultdict(int)
    for pid, qty in lines:
        out[pid] += qty
    return list(out.items())


def left_to_refund(total: int, applied: Iterable[Applied]) -> int:
    """What is left of a purchase (millionths) after its applied adjustments."""
    return total - sum(a.amount for a in applied)


def units_left(bought: Iterable[Line], applied: Iterable[Applied]) -> dict[str, int]:
    """Units of each product not yet refunded by lines."""
    left: dict[str, int] = defaultdict(int)
    for ln in bought:
        left[ln.product_id] += ln.quantity
    for a in applied:
        for pid, qty in a.lines:
            left[pid] -= qty
    return dict(left)


def _fmt(millionths: int, currency: str) -> str:
    return f"{money_from_db(millionths) or Decimal(0)} {currency}"


def settle(
    total: int, currency: str, bought: list[Line], applied: list[Applied], a: Adjustment
) -> tuple[int, list[dict[str, Any]] | None]:
    """The amount (millionths) the adjustment takes, and its lines (for a refund by lines);
    `Refused` if it cannot be applied."""
    left = left_to_refund(total, applied)
    uleft = units_left(bought, applied)
    if any(x.kind == "cancellation" for x in applied):
        raise Refused("The purchase is cancelled; nothing is left to refund", 0, {})
    if a.kind == "cancellation":
        if left <= 0:
            raise Refused("The purchase is fully refunded; nothing is left to cancel", 0, uleft)
        return left, None
    if a.lines is None:
        amount = a.amount or 0
        if amount <= 0:
            raise Refused("A refund's amount must be more than zero", left, uleft)
        if amount > left:
            raise Refused(
                f"The refund of {_fmt(amount, currency)} is more than is left of the purchase: "
                f"{_fmt(left, currency)}",
                left,
                uleft,
            )
        return amount, None
    price: dict[str, int] = defaultdict(int)
    qty: dict[str, int] = defaultdict(int)
    for ln in bought:
        price[ln.product_id] += ln.price
        qty[ln.product_id] += ln.quantity
    done = {pid: qty[pid] - uleft.get(pid, 0) for pid in qty}
    out: list[dict[str, Any]] = []
    amount = 0
    for pid, n in _merge(a.lines):
        if n <= 0:
            raise Refused(f"A returned quantity must be more than zero ({pid!r})", left, uleft)
        if pid not in qty:
            raise Refused(f"The purchase has no line of product {pid!r}", left, uleft)
        if n > uleft.get(pid, 0):
            raise Refused(
                f"Product {pid!r}: {n} refunded but only {uleft.get(pid, 0)} of {qty[pid]} left",
                left,
                uleft,
            )
        before = _share(price[pid], done[pid], qty[pid])
        after = _share(price[pid], done[pid] + n, qty[pid])
        out.append({"productId": pid, "quantity": n, "amount": after - before})
        amount += after - before
    if left <= 0:
        raise Refused("Nothing is left of the purchase to refund", 0, uleft)
    return min(amount, left), out


def _share(price: int, units: int, of: int) -> int:
    if of <= 0:
        return 0
    return int((Decimal(price) * units / of).to_integral_value(rounding=ROUND_HALF_EVEN))


# --- storage ------------------------------------------------------------------------------------


def _lines_of(data: Any) -> list[Line]:
    products = (data or {}).get("products") or []
    return [
        Line(str(p["productId"]), int(p["quantity"]), money_to_db(Decimal(str(p["price"]))))
        for p in products
    ]


def _applied(conn: Conn, purchase_row: int) -> list[Applied]:
    return [
        Applied(
            r.kind, r.amount, tuple((x["productId"], int(x["quantity"])) for x in r.lines or [])
        )
        for r in stored.applied(conn, purchase_row)
    ]


def record(
    conn: Conn, store_id: str, a: Adjustment, *, now: int, channel: str
) -> tuple[str, dict[str, Any]]:
    """Record an adjustment; give (status, details): accepted (applied, or pending until its
    purchase arrives), duplicate or conflict. `Refused` if it cannot be applied."""
    fp = fingerprint(a)
    known = stored.fingerprint(conn, store_id, a.purchase_id, a.adjustment_id)
    if known is not None:
        return ("duplicate" if known == fp else "conflict"), {}
    bought = stored.purchase(conn, store_id, a.purchase_id)
    if bought is None:
        lines = None if a.lines is None else dumps([list(x) for x in a.lines])
        stored.add_pending(conn, _row(store_id, a, now, a.amount, lines, channel, fp))
        pending = conn.memo_if_any(_Pending)
        if pending is not None:
            pending.ids.setdefault(store_id, set()).add(a.purchase_id)
        return "accepted", {"pending": True}
    return "accepted", _apply(conn, store_id, a, fp, bought, _lines_of(bought.data), now, channel)


def _row(
    store_id: str,
    a: Adjustment,
    now: int,
    amount: int | None,
    lines: str | None,
    channel: str,
    fp: str,
) -> stored.AdjustmentWrite:
    """The adjustment's row: `amount` and `lines` (JSON) as recorded."""
    return stored.AdjustmentWrite(
        store_id,
        a.purchase_id,
        a.adjustment_id,
        a.kind,
        a.adjusted_at,
        now,
        amount,
        lines,
        a.reason,
        channel,
        fp,
    )


def _apply(
    conn: Conn,
    store_id: str,
    a: Adjustment,
    fp: str,
    bought: stored.PurchaseRef,
    lines_bought: list[Line],
    now: int,
    channel: str,
) -> dict[str, Any]:
    total, currency = bought.total, bought.currency
    applied = _applied(conn, bought.row)
    amount, lines = settle(total, currency, lines_bought, applied, a)
    text = None if lines is None else dumps(lines)
    stored.add_applied(conn, bought, _row(store_id, a, now, amount, text, channel, fp))
    left = left_to_refund(total, applied) - amount
    data = {
        "purchaseId": a.purchase_id,
        "adjustmentId": a.adjustment_id,
        "kind": a.kind,
        "amount": money_from_db(amount),
        "currency": currency,
        "lines": lines,
        "reason": a.reason,
        "left": money_from_db(left),
        "channel": channel,
    }
    contact_id = bought.contact_id
    if contact_id is not None:
        timeline.add(
            conn,
            store_id,
            contact_id,
            a.adjusted_at,
            "purchase-cancelled" if a.kind == "cancellation" else "purchase-refunded",
            data,
        )
    topic = "purchase.cancelled" if a.kind == "cancellation" else "purchase.refunded"
    outbox.emit(conn, store_id, topic, now, {**data, "contactId": contact_id})
    return {"pending": False, "amount": money_from_db(amount), "left": money_from_db(left)}


class _Pending(msgspec.Struct):
    """The transaction's memo: store → the purchaseIds adjustments wait for."""

    ids: dict[str, set[str]] = {}


def apply_pending(
    conn: Conn,
    store_id: str,
    purchase_id: str,
    bought: stored.PurchaseRef,
    lines_bought: list[Line],
    now: int,
) -> int:
    """Inside the transaction that records a purchase: apply the adjustments that were waiting
    for it, in the order they were made (an adjustment that no longer fits is refused and kept
    in refused_adjustments). One look-up of a store's pending purchaseIds per transaction."""
    memo = conn.memo(_Pending).ids
    ids = memo.get(store_id)
    if ids is None:
        ids = memo[store_id] = stored.pending_purchase_ids(conn, store_id)
    if purchase_id not in ids:
        return 0
    ids.discard(purchase_id)
    n = 0
    for w in stored.waiting(conn, store_id, purchase_id):
        a = Adjustment(
            purchase_id,
            w.adjustment_id,
            w.kind,
            w.adjusted_at,
            w.amount,
            None if w.lines is None else tuple((str(x[0]), int(x[1])) for x in w.lines),
            w.reason,
        )
        try:
            _apply(conn, store_id, a, w.fingerprint, bought, lines_bought, now, w.channel)
            n += 1
        except Refused as exc:
            stored.refuse(
                conn,
                store_id,
                purchase_id,
                w.adjustment_id,
                now,
                exc.message,
                dumps(msgspec.to_builtins(a)),
            )
        stored.drop_pending(conn, w.id)
    return n
