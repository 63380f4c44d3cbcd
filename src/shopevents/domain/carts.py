"""Carts: full snapshots diffed into added/removed activities; states and abandonment.

States: active (has items) · empty · purchased · abandoned · recovered. A cart belongs to one
contact: the same cart id from two contacts makes two carts. After a purchase, a snapshot with
the lines the cart had or the purchase bought (or an empty one) is stale and changes nothing;
different lines start a new cart for that contact. An active cart untouched for the store's delay
becomes abandoned, once; the decision re-reads the cart in the transaction that records it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from shopevents.domain import outbox, timeline
from shopevents.schema import models as m
from shopevents.storage.codec import dumps, loads, money_from_db, money_to_db
from shopevents.storage.database import Conn

CLOSED = ("purchased", "recovered")


class CartRow(msgspec.Struct, kw_only=True):
    id: int
    contact_id: str
    cart_id: str
    state: str
    lines: list[dict[str, Any]]
    closed_lines: list[dict[str, Any]] | None


def _line(item: m.BasketItem) -> dict[str, Any]:
    return {
        "productId": item.productId,
        "name": item.name,
        "quantity": item.quantity,
        "price": Decimal(item.price),
        "unitPrice": Decimal(item.unitPrice),
        "url": item.productDetailUrl,
    }


def _key(lines: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return sorted(
        (ln["productId"], int(ln["quantity"]), str(Decimal(str(ln["price"])).normalize()))
        for ln in lines
    )


class _Known(msgspec.Struct):
    """The latest cart of (store, contact, cart id) as the open transaction knows it, and the
    (store, contact) pairs whose every cart is known (a miss then means no cart)."""

    latest: dict[tuple[str, str, str], CartRow | None]
    complete: set[tuple[str, str]]


def _known(conn: Conn) -> _Known:
    known = conn.tx_memo.get("carts")
    if known is None:
        known = conn.tx_memo["carts"] = _Known({}, set())
    return known  # type: ignore[no-any-return]


def forget(conn: Conn) -> None:
    """Drop what the transaction knows of carts (after moving carts between contacts)."""
    conn.tx_memo.pop("carts", None)


def _forget_one(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> None:
    known = _known(conn)
    known.latest.pop((store_id, contact_id, cart_id), None)
    known.complete.discard((store_id, contact_id))


def new_contact(conn: Conn, store_id: str, contact_id: str) -> None:
    """A contact created in this transaction has no carts yet."""
    _known(conn).complete.add((store_id, contact_id))


def _row(r: Any) -> CartRow:
    return CartRow(
        id=r[0],
        contact_id=r[1],
        cart_id=r[2],
        state=r[3],
        lines=loads(r[4]),
        closed_lines=loads(r[5]),
    )


def prefetch(conn: Conn, store_id: str, contact_ids: list[str]) -> None:
    """The latest carts of many contacts in one round trip, for the requests of one
    transaction."""
    known = _known(conn)
    wanted = [c for c in dict.fromkeys(contact_ids) if (store_id, c) not in known.complete]
    if not wanted:
        return
    if conn.dialect == "postgres":  # one index look-up per contact, whatever the statistics
        sql = (
            "SELECT x.id, x.contact_id, x.cart_id, x.state, x.lines, x.closed_lines "
            "FROM unnest(?::text[]) AS k(v) CROSS JOIN LATERAL ("
            "SELECT DISTINCT ON (cart_id) id, contact_id, cart_id, state, lines, closed_lines "
            "FROM carts WHERE store_id = ? AND contact_id = k.v ORDER BY cart_id, id DESC) x"
        )
        params: tuple[Any, ...] = (wanted, store_id)
    else:
        test, in_params = conn.any_of(wanted)
        sql = (
            "SELECT id, contact_id, cart_id, state, lines, closed_lines FROM carts WHERE id IN ("
            f"SELECT MAX(id) FROM carts WHERE store_id = ? AND contact_id {test} GROUP BY contact_id, cart_id)"
        )
        params = (store_id, *in_params)
    for r in conn.all(sql, params):
        known.latest[(store_id, r[1], r[2])] = _row(r)
    known.complete.update((store_id, c) for c in wanted)


def _latest(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> CartRow | None:
    known = _known(conn)
    key = (store_id, contact_id, cart_id)
    if key in known.latest:
        return known.latest[key]
    if (store_id, contact_id) in known.complete:
        return None
    r = conn.one(
        "SELECT id, contact_id, cart_id, state, lines, closed_lines FROM carts "
        "WHERE store_id = ? AND contact_id = ? AND cart_id = ? ORDER BY id DESC LIMIT 1",
        (store_id, contact_id, cart_id),
    )
    row = known.latest[key] = None if r is None else _row(r)
    return row


def _transition(
    conn: Conn,
    store_id: str,
    cart_row: int,
    at: int,
    old: str | None,
    new: str,
    reason: str,
    request_id: int | None,
) -> None:
    conn.append(
        "INSERT INTO cart_transitions (cart_row, store_id, at, from_state, to_state, reason, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (cart_row, store_id, at, old, new, reason, request_id),
    )


def _diff(
    conn: Conn,
    store_id: str,
    contact_id: str,
    cart_id: str,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    now: int,
) -> None:
    before = {ln["productId"]: ln for ln in old}
    after = {ln["productId"]: ln for ln in new}
    items: list[timeline.Item] = []
    for pid, ln in after.items():
        prev = before.get(pid)
        added = int(ln["quantity"]) - (int(prev["quantity"]) if prev else 0)
        if added:
            items.append(
                (
                    "cart-product-added" if added > 0 else "cart-product-removed",
                    None,
                    {
                        "cartId": cart_id,
                        "productId": pid,
                        "name": ln["name"],
                        "quantity": abs(added),
                    },
                )
            )
    for pid, ln in before.items():
        if pid not in after:
            items.append(
                (
                    "cart-product-removed",
                    None,
                    {
                        "cartId": cart_id,
                        "productId": pid,
                        "name": ln["name"],
                        "quantity": int(ln["quantity"]),
                    },
                )
            )
    timeline.add_many(conn, store_id, contact_id, now, items)


def _insert(
    conn: Conn,
    store_id: str,
    contact_id: str,
    cart_id: str,
    state: str,
    lines: str,
    total_price: int,
    total_quantity: int,
    currency: str,
    recovery_url: str | None,
    now: int,
    abandon_at: int | None,
    purchase_id: str | None = None,
    purchase_link: str | None = None,
    closed_lines: str | None = None,
) -> int:
    return conn.append_id(
        "INSERT INTO carts (store_id, contact_id, cart_id, state, lines, total_price, total_quantity, "
        "currency, recovery_url, created_at, updated_at, abandon_at, purchase_id, purchase_link, "
        "closed_lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            store_id,
            contact_id,
            cart_id,
            state,
            lines,
            total_price,
            total_quantity,
            currency,
            recovery_url,
            now,
            now,
            abandon_at,
            purchase_id,
            purchase_link,
            closed_lines,
        ),
    )


def apply_snapshot(
    conn: Conn,
    store_id: str,
    contact_id: str,
    cart: m.Cart,
    now: int,
    delay_us: int,
    currency: str,
    request_id: int | None,
) -> str:
    """Apply one snapshot; give what happened (for the cart's verdict)."""
    lines = [_line(i) for i in cart.products]
    has_items = bool(lines)
    row = _latest(conn, store_id, contact_id, cart.cartId)
    if row is not None and row.state in CLOSED:
        if not has_items or _key(lines) in (_key(row.lines), _key(row.closed_lines or row.lines)):
            return "stale"
        row = None
    if row is None:
        if not has_items:
            return "unchanged"
        cart_row = _insert(
            conn,
            store_id,
            contact_id,
            cart.cartId,
            "active",
            dumps(lines),
            money_to_db(cart.totalPrice),
            cart.totalQuantity,
            cart.currency or currency,
            cart.cartRecoveryUrl,
            now,
            now + delay_us,
        )
        _known(conn).latest[(store_id, contact_id, cart.cartId)] = CartRow(
            id=cart_row,
            contact_id=contact_id,
            cart_id=cart.cartId,
            state="active",
            lines=lines,
            closed_lines=None,
        )
        _transition(
            conn, store_id, cart_row, now, None, "active", "first snapshot with items", request_id
        )
        _diff(conn, store_id, contact_id, cart.cartId, [], lines, now)
        return "created"
    if _key(lines) == _key(row.lines):
        return "unchanged"
    _diff(conn, store_id, contact_id, cart.cartId, row.lines, lines, now)
    new_state = "active" if has_items else "empty"
    conn.execute(
        "UPDATE carts SET state = ?, lines = ?, total_price = ?, total_quantity = ?, recovery_url = COALESCE(?, recovery_url), "
        "updated_at = ?, abandon_at = ? WHERE id = ?",
        (
            new_state,
            dumps(lines),
            money_to_db(cart.totalPrice),
            cart.totalQuantity,
            cart.cartRecoveryUrl,
            now,
            now + delay_us if has_items else None,
            row.id,
        ),
    )
    old_state, row.state, row.lines = row.state, new_state, lines  # the memo's row too
    if new_state != old_state:
        reason = {
            ("active", "empty"): "emptied",
            ("empty", "active"): "items added",
            ("abandoned", "active"): "changed after abandonment",
            ("abandoned", "empty"): "emptied after abandonment",
        }.get((old_state, new_state), "snapshot")
        _transition(conn, store_id, row.id, now, old_state, new_state, reason, request_id)
    return "updated"


def close_for_purchase(
    conn: Conn,
    store_id: str,
    contact_id: str | None,
    purchase: m.Purchase,
    total_price: int,
    now: int,
    currency: str,
    request_id: int | None,
) -> tuple[str, int | None]:
    """Mark the purchase's cart purchased (or recovered); give (outcome, cart row)."""
    if contact_id is None:
        return "no-contact", None
    lines = [_line(i) for i in purchase.products]
    if purchase.cartId:
        row = _latest(conn, store_id, contact_id, purchase.cartId)
        link = "explicit"
        if row is None:
            cart_row = _insert(
                conn,
                store_id,
                contact_id,
                purchase.cartId,
                "purchased",
                dumps(lines),
                total_price,
                purchase.totalQuantity,
                currency,
                None,
                now,
                None,
                purchase.purchaseId,
                link,
                dumps(lines),
            )
            _transition(
                conn,
                store_id,
                cart_row,
                now,
                None,
                "purchased",
                f"purchase {purchase.purchaseId} before any snapshot",
                request_id,
            )
            _forget_one(conn, store_id, contact_id, purchase.cartId)
            return "purchased", cart_row
        if row.state in CLOSED:
            return "already-closed", row.id
    else:
        link = "inferred"
        bought = {i.productId for i in purchase.products}
        row = None
        for r in conn.all(
            "SELECT id, contact_id, cart_id, state, lines, closed_lines FROM carts WHERE store_id = ? AND contact_id = ? "
            "AND state IN ('active', 'abandoned') ORDER BY updated_at DESC, id DESC LIMIT 5",
            (store_id, contact_id),
        ):
            held = {ln["productId"] for ln in loads(r[4])}
            if held and held <= bought:
                row = CartRow(
                    id=r[0],
                    contact_id=r[1],
                    cart_id=r[2],
                    state=r[3],
                    lines=loads(r[4]),
                    closed_lines=None,
                )
                break
        if row is None:
            return "no-cart", None
    new_state = "recovered" if row.state == "abandoned" else "purchased"
    closed = lines or row.lines
    _forget_one(conn, store_id, contact_id, row.cart_id)
    conn.execute(
        "UPDATE carts SET state = ?, abandon_at = NULL, updated_at = ?, purchase_id = ?, purchase_link = ?, closed_lines = ? WHERE id = ?",
        (new_state, now, purchase.purchaseId, link, dumps(closed), row.id),
    )
    _transition(
        conn,
        store_id,
        row.id,
        now,
        row.state,
        new_state,
        f"purchase {purchase.purchaseId} ({link} link)",
        request_id,
    )
    if new_state == "recovered":
        timeline.add(
            conn,
            store_id,
            contact_id,
            now,
            "cart-recovered",
            {"cartId": row.cart_id, "purchaseId": purchase.purchaseId},
        )
        outbox.emit(
            conn,
            store_id,
            "cart.recovered",
            now,
            {
                "cartKey": str(row.id),
                "cartId": row.cart_id,
                "contactId": contact_id,
                "purchaseId": purchase.purchaseId,
                "totalPrice": money_from_db(total_price),
            },
        )
    return new_state, row.id


def never_abandon(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> None:
    """A bot's cart (docs/privacy.md#bots): no abandonment deadline (a later snapshot from a
    person's browser sets one again)."""
    conn.execute(
        "UPDATE carts SET abandon_at = NULL WHERE store_id = ? AND contact_id = ? AND cart_id = ? "
        "AND abandon_at IS NOT NULL",
        (store_id, contact_id, cart_id),
    )


def mark_due_abandoned(conn: Conn, now: int, limit: int = 500) -> int:
    """One worker step: abandon due active carts (claimed through the deadline index with a
    compare-and-set). Give how many were abandoned. Call it inside a transaction."""
    forget(conn)
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgres" else ""
    due = conn.all(
        "SELECT id FROM carts WHERE state = 'active' AND abandon_at <= ? ORDER BY abandon_at LIMIT ?"
        + lock,
        (now, limit),
    )
    count = 0
    for (cart_row,) in due:
        got = conn.one(
            "UPDATE carts SET state = 'abandoned', abandon_at = NULL, updated_at = ? "
            "WHERE id = ? AND state = 'active' AND abandon_at <= ? "
            "RETURNING store_id, contact_id, cart_id, total_price, lines, recovery_url, currency",
            (now, cart_row, now),
        )
        if got is None:
            continue
        count += 1
        store_id, contact_id, cart_id, total, lines, recovery, currency = got
        _transition(
            conn,
            store_id,
            cart_row,
            now,
            "active",
            "abandoned",
            "no change within the store's abandonment delay",
            None,
        )
        timeline.add(
            conn,
            store_id,
            contact_id,
            now,
            "cart-abandoned",
            {"cartId": cart_id, "cartKey": str(cart_row)},
        )
        email = conn.scalar("SELECT email FROM contacts WHERE id = ?", (contact_id,))
        outbox.emit(
            conn,
            store_id,
            "cart.abandoned",
            now,
            {
                "cartKey": str(cart_row),
                "cartId": cart_id,
                "contactId": contact_id,
                "email": email,
                "totalPrice": money_from_db(total),
                "currency": currency,
                "lines": loads(lines),
                "cartRecoveryUrl": recovery,
            },
        )
    return count
