"""The purchase ledger: one record per (store, purchaseId), forever.

A resend with the same content (a reload, a retry, the browser and the REST API both) is a
`duplicate`; the same purchaseId with a different content is a `conflict`, kept for review
and never counted. Only the first record counts in revenue and contact aggregates.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import msgspec

from shopevents.domain import adjustments, carts, identity, outbox, timeline
from shopevents.jsoncodec import dumps, plain
from shopevents.schema import models as m
from shopevents.schema.dates import ParsedDate
from shopevents.storage import ledger
from shopevents.storage.adjustments import PurchaseRef
from shopevents.storage.codec import money_from_db, money_to_db
from shopevents.storage.database import Conn


def fingerprint(p: m.Purchase, currency: str) -> str:
    """What makes two records of a purchase the same: amounts, quantities, lines, currency."""
    lines = sorted((i.productId, i.quantity, str(Decimal(i.price).normalize())) for i in p.products)
    text = dumps([str(Decimal(p.totalPrice).normalize()), p.totalQuantity, currency, lines])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def verdict(existing: tuple[str, int] | None, fp: str) -> str:
    """A purchaseId the ledger holds as `existing` (fingerprint, row), sent again with
    fingerprint `fp`: the same content is a `duplicate`, another is a `conflict`."""
    return "duplicate" if existing is not None and existing[0] == fp else "conflict"


class _Known(msgspec.Struct):
    """What the open transaction knows of the ledger: (store, purchaseId) → (fingerprint, row
    id) of a purchase stored or recorded in it, or None when known not to be stored."""

    rows: dict[tuple[str, str], tuple[str, int] | None] = {}


def _known(conn: Conn) -> _Known:
    return conn.memo(_Known)


def prefetch(conn: Conn, store_id: str, purchase_ids: list[str]) -> None:
    """Look up a batch's purchaseIds in one statement, so that recording a new purchase
    needs no answer from the database (on PostgreSQL, no wait per purchase)."""
    known = _known(conn)
    wanted = [p for p in dict.fromkeys(purchase_ids) if (store_id, p) not in known.rows]
    if not wanted:
        return
    found = ledger.fingerprints(conn, store_id, wanted)
    for p in wanted:
        known.rows[(store_id, p)] = found.get(p)


def record(
    conn: Conn,
    store_id: str,
    contact_id: str | None,
    p: m.Purchase,
    date: ParsedDate | None,
    *,
    channel: str,
    request_id: int | None,
    now: int,
    store_currency: str,
    contact_email: str | None = None,
    decided: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Record a purchase; give (status, details) with status accepted / duplicate / conflict.

    `decided`: the verdict a cluster collector already gave (and answered with) from the
    purchase claims: `duplicate` changes nothing if the ledger holds the purchase and records
    it if not (its first request never came), `conflict` keeps the conflict for review,
    `accepted` records it as here (the ledger then has the last word)."""
    currency = p.currency or store_currency
    fp = fingerprint(p, currency)
    purchased_at = now
    offset = None
    if date is not None:
        from shopevents.clock import to_micros

        purchased_at = to_micros(date.utc)
        offset = date.offset_minutes
    total = money_to_db(p.totalPrice)
    data = plain(p)
    row_params = (
        store_id,
        p.purchaseId,
        contact_id,
        p.cartId,
        channel,
        request_id,
        purchased_at,
        offset,
        now,
        total,
        p.totalQuantity,
        currency,
        p.paymentMethod,
        p.source_type,
        p.source_name,
        fp,
        dumps(data),
    )
    known = _known(conn)
    key = (store_id, p.purchaseId)
    if decided == "duplicate":
        # The purchase was claimed before, but its first request may never reach the ledger
        # (a collector that died between its claim and its publish): record it if missing.
        # The claim and this request have the same fingerprint, so it counts once.
        _, details = record(
            conn,
            store_id,
            contact_id,
            p,
            date,
            channel=channel,
            request_id=request_id,
            now=now,
            store_currency=store_currency,
            contact_email=contact_email,
        )
        return "duplicate", details
    if decided == "conflict":
        return _conflict(conn, store_id, p, channel, request_id, now, fp, data, known.rows.get(key))
    existing: tuple[str, int] | None = None
    if key in known.rows:  # looked up (or recorded) in this transaction
        existing = known.rows[key]
        purchase_row = ledger.append(conn, row_params) if existing is None else None
    else:
        purchase_row = ledger.insert_new(conn, row_params)
        if purchase_row is None:
            existing = ledger.stored(conn, store_id, p.purchaseId)
    if purchase_row is None:
        if verdict(existing, fp) == "duplicate":
            assert existing is not None
            return "duplicate", {"purchaseRow": existing[1]}
        return _conflict(conn, store_id, p, channel, request_id, now, fp, data, existing)
    known.rows[key] = (fp, purchase_row)
    for i in p.products:
        ledger.add_line(
            conn,
            purchase_row,
            store_id,
            purchased_at,
            i.productId,
            i.name,
            i.quantity,
            money_to_db(i.price),
        )
    adjustments.apply_pending(
        conn,
        store_id,
        p.purchaseId,
        PurchaseRef(
            purchase_row,
            total,
            currency,
            purchased_at,
            p.source_type,
            p.source_name,
            p.paymentMethod,
            contact_id,
        ),
        [adjustments.Line(i.productId, i.quantity, money_to_db(i.price)) for i in p.products],
        now,
    )
    outcome, cart_row = carts.close_for_purchase(
        conn, store_id, contact_id, p, total, now, currency, request_id
    )
    if outcome == "recovered":
        ledger.mark_recovered(conn, purchase_row)
    if contact_id is not None:
        identity.add_purchase(conn, contact_id, total, purchased_at, now)
        timeline.add(
            conn,
            store_id,
            contact_id,
            purchased_at,
            "purchase",
            {
                "purchaseId": p.purchaseId,
                "totalPrice": p.totalPrice,
                "totalQuantity": p.totalQuantity,
                "currency": currency,
                "cartId": p.cartId,
                "channel": channel,
            },
        )
    outbox.emit(
        conn,
        store_id,
        "purchase.created",
        now,
        {
            "purchaseId": p.purchaseId,
            "contactId": contact_id,
            "email": contact_email,
            "totalPrice": p.totalPrice,
            "totalQuantity": p.totalQuantity,
            "currency": currency,
            "cartId": p.cartId,
            "channel": channel,
            "recovered": outcome == "recovered",
        },
    )
    return "accepted", {"purchaseRow": purchase_row, "cart": outcome, "cartRow": cart_row}


def _conflict(
    conn: Conn,
    store_id: str,
    p: m.Purchase,
    channel: str,
    request_id: int | None,
    now: int,
    fp: str,
    data: Any,
    existing: tuple[str, int] | None,
) -> tuple[str, dict[str, Any]]:
    """Keep a record that differs from the ledger's for review; it is never counted."""
    ledger.add_conflict(conn, store_id, p.purchaseId, channel, request_id, now, fp, dumps(data))
    outbox.emit(
        conn, store_id, "purchase.conflict", now, {"purchaseId": p.purchaseId, "received": data}
    )
    return "conflict", {"purchaseRow": existing[1] if existing else None}


def money(value: int) -> Decimal | None:
    return money_from_db(value)
