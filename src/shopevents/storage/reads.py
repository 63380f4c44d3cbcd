"""Named read queries shared by the REST API, the dashboard and the CLI."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shopevents.clock import from_micros
from shopevents.jsoncodec import loads
from shopevents.storage.codec import money_from_db, plain_amount
from shopevents.storage.database import Conn


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    return from_micros(int(us)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- contacts ---------------------------------------------------------------------------

CONTACT_COLS = (
    "id, email, fields, created_at, updated_at, merged_into, total_purchases, total_amount, "
    "first_purchase_at, last_purchase_at"
)


def contact_view(conn: Conn, row: Any) -> dict[str, Any]:
    fields = loads(row[2]) or {}
    total = int(row[6])
    amount = plain_amount(Decimal(str(row[7] or "0"))) if row[7] not in (None, "0") else Decimal(0)
    out: dict[str, Any] = {
        "id": row[0],
        "_email": row[1],
        **fields,
        "_createdAt": iso(row[3]),
        "_updatedAt": iso(row[4]),
        "_isAnonymous": row[1] is None,
        "_totalPurchases": total,
        "_totalPurchasesAmount": amount,
        "_averagePurchasesAmount": (amount / total).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if total
        else Decimal(0),
        **_net_aggregates(conn, row[0], total, amount),
        "_firstPurchaseDate": iso(row[8]),
        "_lastPurchaseDate": iso(row[9]),
    }
    if row[5]:
        out["_mergedInto"] = row[5]
    return out


def _net_aggregates(conn: Conn, contact_id: str, total: int, amount: Decimal) -> dict[str, Any]:
    """Next to the gross aggregates (`_totalPurchases`, `_totalPurchasesAmount`: every
    purchase as bought): refunds and cancellations, and the net figures. A cancelled purchase
    is not counted in `_netPurchases`."""
    row = conn.one(
        "SELECT COALESCE(SUM(a.amount), 0), COUNT(DISTINCT CASE WHEN a.kind = 'cancellation' "
        "THEN a.purchase_row END) FROM purchase_adjustments a JOIN purchases p ON p.id = a.purchase_row "
        "WHERE p.contact_id = ?",
        (contact_id,),
    )
    refunded = money_from_db(int(row[0])) or Decimal(0) if row else Decimal(0)
    cancelled = int(row[1]) if row else 0
    net = amount - refunded
    orders = total - cancelled
    return {
        "_refundedPurchasesAmount": refunded,
        "_netPurchases": orders,
        "_netPurchasesAmount": net,
        "_averageNetPurchasesAmount": (net / orders).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if orders
        else Decimal(0),
    }


def contact_by_email(conn: Conn, store_id: str, email: str) -> dict[str, Any] | None:
    row = conn.one(
        f"SELECT {CONTACT_COLS} FROM contacts WHERE store_id = ? AND email = ?",
        (store_id, email.strip().lower()),
    )
    return contact_view(conn, row) if row else None


def contact_by_id(conn: Conn, store_id: str, contact_id: str) -> dict[str, Any] | None:
    row = conn.one(
        f"SELECT {CONTACT_COLS} FROM contacts WHERE store_id = ? AND id = ?",
        (store_id, contact_id),
    )
    return contact_view(conn, row) if row else None


def contact_details(conn: Conn, store_id: str, contact_id: str) -> dict[str, Any]:
    """Trackers and merges of a contact (for the contact sheet and the CLI)."""
    trackers = [
        {"trackerId": r[0], "firstSeen": iso(r[1]), "lastSeen": iso(r[2])}
        for r in conn.all(
            "SELECT tracker_id, first_seen, last_seen FROM trackers WHERE store_id = ? AND contact_id = ? ORDER BY first_seen",
            (store_id, contact_id),
        )
    ]
    merges = [
        {
            "mergeId": int(r[0]),
            "fromContact": r[1],
            "intoContact": r[2],
            "requestId": r[3],
            "at": iso(r[4]),
            "undoneAt": iso(r[5]),
        }
        for r in conn.all(
            "SELECT id, from_contact, into_contact, request_id, at, undone_at FROM merges "
            "WHERE store_id = ? AND (into_contact = ? OR from_contact = ?) ORDER BY at DESC",
            (store_id, contact_id, contact_id),
        )
    ]
    return {"trackers": trackers, "merges": merges}


def search_contacts(conn: Conn, store_id: str, text: str, limit: int = 50) -> list[dict[str, Any]]:
    like = f"%{text.strip().lower()}%"
    rows = conn.all(
        f"SELECT {CONTACT_COLS} FROM contacts WHERE store_id = ? AND merged_into IS NULL AND "
        "(LOWER(COALESCE(email, '')) LIKE ? OR LOWER(fields) LIKE ?) ORDER BY updated_at DESC LIMIT ?",
        (store_id, like, like, limit),
    )
    return [contact_view(conn, r) for r in rows]


# --- purchases -------------------------------------------------------------------------

PURCHASE_COLS = (
    "p.id, p.purchase_id, p.contact_id, p.cart_id, p.channel, p.purchased_at, p.received_at, p.total_price, "
    "p.total_quantity, p.currency, p.payment_method, p.source_type, p.source_name, p.recovered, p.data, c.email, p.date_offset"
)


def purchase_view(row: Any) -> dict[str, Any]:
    data = loads(row[14]) or {}
    return {
        "id": str(row[0]),
        "purchaseId": row[1],
        "contactId": row[2],
        "contactEmail": row[15],
        "cartId": row[3],
        "channel": row[4],
        "purchaseDate": iso(row[5]),
        "purchaseDateAsSent": data.get("purchaseDate"),
        "totalPrice": money_from_db(int(row[7])),
        "totalQuantity": int(row[8]),
        "currency": row[9],
        "paymentMethod": row[10],
        "source_type": row[11],
        "source_name": row[12],
        "recovered": bool(row[13]),
        "products": data.get("products", []),
        "createdAt": iso(row[6]),
        "updatedAt": iso(row[6]),
    }


def purchase_by_id(conn: Conn, store_id: str, purchase_id: str) -> dict[str, Any] | None:
    row = conn.one(
        f"SELECT {PURCHASE_COLS} FROM purchases p LEFT JOIN contacts c ON c.id = p.contact_id "
        "WHERE p.store_id = ? AND p.purchase_id = ?",
        (store_id, purchase_id),
    )
    if row is None:
        return None
    out = purchase_view(row)
    out.update(purchase_adjustments(conn, int(row[0]), int(row[7])))
    out["conflicts"] = [
        {"receivedAt": iso(r[0]), "channel": r[1], "data": loads(r[2])}
        for r in conn.all(
            "SELECT received_at, channel, data FROM purchase_conflicts WHERE store_id = ? AND purchase_id = ? ORDER BY id",
            (store_id, purchase_id),
        )
    ]
    return out


def purchase_adjustments(conn: Conn, purchase_row: int, total: int) -> dict[str, Any]:
    """A purchase's applied refunds and cancellation, what they took, what is left, and its
    state: `active`, `partially_refunded`, `refunded` or `cancelled`."""
    items = [
        {
            "adjustmentId": r[0],
            "kind": r[1],
            "adjustedAt": iso(r[2]),
            "amount": money_from_db(int(r[3])),
            "lines": loads(r[4]),
            "reason": r[5],
            "channel": r[6],
            "receivedAt": iso(r[7]),
        }
        for r in conn.all(
            "SELECT adjustment_id, kind, adjusted_at, amount, lines, reason, channel, received_at "
            "FROM purchase_adjustments WHERE purchase_row = ? ORDER BY adjusted_at, id",
            (purchase_row,),
        )
    ]
    taken = sum(
        int(r[0])
        for r in conn.all(
            "SELECT amount FROM purchase_adjustments WHERE purchase_row = ?", (purchase_row,)
        )
    )
    state = "active"
    if any(a["kind"] == "cancellation" for a in items):
        state = "cancelled"
    elif items:
        state = "refunded" if taken >= total else "partially_refunded"
    return {
        "state": state,
        "refunded": money_from_db(taken),
        "netTotal": money_from_db(total - taken),
        "adjustments": items,
    }


def list_purchases(
    conn: Conn,
    store_id: str,
    *,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
    contact_id: str | None = None,
) -> list[dict[str, Any]]:
    sql = f"SELECT {PURCHASE_COLS} FROM purchases p LEFT JOIN contacts c ON c.id = p.contact_id WHERE p.store_id = ?"
    params: list[Any] = [store_id]
    if search:
        sql += " AND p.purchase_id LIKE ?"
        params.append(f"%{search}%")
    if contact_id:
        sql += " AND p.contact_id = ?"
        params.append(contact_id)
    sql += " ORDER BY p.purchased_at DESC, p.id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [purchase_view(r) for r in conn.all(sql, params)]


def purchases_with_conflicts(conn: Conn, store_id: str, limit: int = 50) -> list[dict[str, Any]]:
    ids = [
        r[0]
        for r in conn.all(
            "SELECT purchase_id, MAX(id) AS last FROM purchase_conflicts WHERE store_id = ? GROUP BY purchase_id ORDER BY last DESC LIMIT ?",
            (store_id, limit),
        )
    ]
    return [p for p in (purchase_by_id(conn, store_id, i) for i in ids) if p is not None]


# --- products --------------------------------------------------------------------------


def product_view(row: Any) -> dict[str, Any]:
    data = loads(row[5]) or {}
    return {
        **data,
        "productId": row[0],
        "name": row[1],
        "unitPrice": money_from_db(int(row[2])),
        "availability": row[3] or data.get("availability") or "unverified",
        "firstSeen": iso(row[6]),
        "lastSeen": iso(row[7]),
        "createdAt": iso(row[6]),
        "updatedAt": iso(row[4]),
    }


PRODUCT_COLS = "product_id, name, unit_price, availability, updated_at, data, first_seen, last_seen"


def product_by_id(conn: Conn, store_id: str, product_id: str) -> dict[str, Any] | None:
    row = conn.one(
        f"SELECT {PRODUCT_COLS} FROM products WHERE store_id = ? AND product_id = ?",
        (store_id, product_id),
    )
    return product_view(row) if row else None


def product_data(conn: Conn, store_id: str, product_id: str) -> dict[str, Any] | None:
    """The product's fields as last written (its `data`), or None if the store has no such
    product."""
    raw = conn.scalar(
        "SELECT data FROM products WHERE store_id = ? AND product_id = ?", (store_id, product_id)
    )
    if raw is None:
        return None
    data: dict[str, Any] = loads(raw) or {}
    return data


def search_products(
    conn: Conn, store_id: str, text: str = "", limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    like = f"%{text.strip().lower()}%"
    rows = conn.all(
        f"SELECT {PRODUCT_COLS} FROM products WHERE store_id = ? AND (LOWER(name) LIKE ? OR LOWER(product_id) LIKE ?) "
        "ORDER BY last_seen DESC LIMIT ? OFFSET ?",
        (store_id, like, like, limit, offset),
    )
    return [product_view(r) for r in rows]


# --- carts -----------------------------------------------------------------------------

_CART_COLS = (
    "k.id, k.contact_id, k.cart_id, k.state, k.lines, k.total_price, k.total_quantity, k.currency, k.recovery_url, "
    "k.created_at, k.updated_at, k.abandon_at, k.purchase_id, k.purchase_link, c.email"
)

CART_STATES = ("active", "empty", "purchased", "abandoned", "recovered")


def _cart(row: Any) -> dict[str, Any]:
    return {
        "cartKey": str(row[0]),
        "contactId": row[1],
        "contactEmail": row[14],
        "cartId": row[2],
        "status": row[3],
        "products": loads(row[4]),
        "totalPrice": money_from_db(int(row[5])),
        "totalQuantity": int(row[6]),
        "currency": row[7],
        "cartRecoveryUrl": row[8],
        "createdAt": iso(row[9]),
        "updatedAt": iso(row[10]),
        "abandonAt": iso(row[11]),
        "purchaseId": row[12],
        "purchaseLink": row[13],
    }


def list_carts(
    conn: Conn,
    store_id: str,
    *,
    status: str | None = None,
    contact_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    sql = f"SELECT {_CART_COLS} FROM carts k LEFT JOIN contacts c ON c.id = k.contact_id WHERE k.store_id = ?"
    params: list[Any] = [store_id]
    if status:
        sql += " AND k.state = ?"
        params.append(status)
    if contact_id:
        sql += " AND k.contact_id = ?"
        params.append(contact_id)
    sql += " ORDER BY k.updated_at DESC, k.id DESC LIMIT ? OFFSET ?"
    params += [limit, offset]
    return [_cart(r) for r in conn.all(sql, params)]


def cart_by_key(conn: Conn, store_id: str, cart_key: str) -> dict[str, Any] | None:
    if not (cart_key.isascii() and cart_key.isdigit()) or len(cart_key) > 18:
        return None
    row = conn.one(
        f"SELECT {_CART_COLS} FROM carts k LEFT JOIN contacts c ON c.id = k.contact_id WHERE k.store_id = ? AND k.id = ?",
        (store_id, int(cart_key)),
    )
    if row is None:
        return None
    out = _cart(row)
    out["history"] = [
        {"at": iso(r[0]), "from": r[1], "to": r[2], "reason": r[3], "requestId": r[4]}
        for r in conn.all(
            "SELECT at, from_state, to_state, reason, request_id FROM cart_transitions WHERE cart_row = ? ORDER BY id",
            (int(cart_key),),
        )
    ]
    return out


# --- requests and quarantine ------------------------------------------------------------


def recent_requests(
    conn: Conn, store_id: str, *, after_id: int = 0, limit: int = 50
) -> list[dict[str, Any]]:
    rows = conn.all(
        "SELECT id, received_at, channel, origin, tracker_id, contact_id, response, body, accepted, rejected FROM requests "
        "WHERE store_id = ? AND id > ? ORDER BY id DESC LIMIT ?",
        (store_id, after_id, limit),
    )
    return [
        {
            "id": int(r[0]),
            "receivedAt": iso(r[1]),
            "channel": r[2],
            "origin": r[3],
            "trackerId": r[4],
            "contactId": r[5],
            "response": loads(r[6]),
            "body": bytes(r[7]).decode("utf-8", "replace"),
            "accepted": int(r[8]),
            "rejected": int(r[9]),
        }
        for r in rows
    ]


def quarantine_where(store_id: str, code: str | None, pending_only: bool) -> tuple[str, list[Any]]:
    """The condition (and its parameters) on a store's quarantined events: of `code` when
    given, and only those not replayed yet or rejected again when `pending_only`."""
    sql = "store_id = ?"
    params: list[Any] = [store_id]
    if code:
        sql += " AND code = ?"
        params.append(code)
    if pending_only:
        sql += " AND (replay_status IS NULL OR replay_status = 'rejected')"
    return sql, params


def quarantine(
    conn: Conn,
    store_id: str,
    *,
    code: str | None = None,
    pending_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    where, params = quarantine_where(store_id, code, pending_only)
    sql = (
        "SELECT id, request_id, idx, type, code, received_at, raw, errors, replayed_at, replay_status "
        f"FROM quarantine WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?"
    )
    params += [limit, offset]
    return [
        {
            "id": int(r[0]),
            "requestId": int(r[1]),
            "index": int(r[2]),
            "type": r[3],
            "code": r[4],
            "receivedAt": iso(r[5]),
            "raw": bytes(r[6]).decode("utf-8", "replace"),
            "errors": loads(r[7]),
            "replayedAt": iso(r[8]),
            "replayStatus": r[9],
        }
        for r in conn.all(sql, params)
    ]
