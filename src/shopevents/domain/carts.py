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
from shopevents.jsoncodec import dumps
from shopevents.schema import models as m
from shopevents.storage import carts as stored
from shopevents.storage import contacts
from shopevents.storage.carts import CartRow, NewCart
from shopevents.storage.codec import money_from_db, money_to_db
from shopevents.storage.database import Conn

__all__ = ["CLOSED", "CartChange", "CartRow"]

CLOSED = ("purchased", "recovered")
# The first inferred match among a contact's most recently changed open carts.
INFER_AMONG = 5

_REASONS = {
    ("active", "empty"): "emptied",
    ("empty", "active"): "items added",
    ("abandoned", "active"): "changed after abandonment",
    ("abandoned", "empty"): "emptied after abandonment",
}


# -- the rules, on plain values --------------------------------------------------------------


def line(item: m.BasketItem) -> dict[str, Any]:
    """A basket item as a cart line."""
    return {
        "productId": item.productId,
        "name": item.name,
        "quantity": item.quantity,
        "price": Decimal(item.price),
        "unitPrice": Decimal(item.unitPrice),
        "url": item.productDetailUrl,
    }


def same_lines(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Whether two carts hold the same products, quantities and prices (in any order)."""
    return _key(a) == _key(b)


def _key(lines: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return sorted(
        (ln["productId"], int(ln["quantity"]), str(Decimal(str(ln["price"])).normalize()))
        for ln in lines
    )


def diff(cart_id: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[timeline.Item]:
    """The timeline's added/removed activities from one snapshot of a cart to the next."""
    before = {ln["productId"]: ln for ln in old}
    after = {ln["productId"]: ln for ln in new}
    items: list[timeline.Item] = []
    for pid, ln in after.items():
        prev = before.get(pid)
        added = int(ln["quantity"]) - (int(prev["quantity"]) if prev else 0)
        if added:
            kind = "cart-product-added" if added > 0 else "cart-product-removed"
            items.append((kind, None, _moved(cart_id, pid, ln["name"], abs(added))))
    for pid, ln in before.items():
        if pid not in after:
            items.append(
                ("cart-product-removed", None, _moved(cart_id, pid, ln["name"], ln["quantity"]))
            )
    return items


def _moved(cart_id: str, product_id: str, name: Any, quantity: Any) -> dict[str, Any]:
    return {"cartId": cart_id, "productId": product_id, "name": name, "quantity": int(quantity)}


class CartChange(msgspec.Struct, kw_only=True):
    """What a snapshot does to a cart: `outcome` (stale, unchanged, created, updated), the
    cart's new `state` and abandonment deadline, the `reason` of a change of state (None when
    the state stays), and the timeline's activities."""

    outcome: str
    state: str | None = None
    abandon_at: int | None = None
    reason: str | None = None
    items: list[timeline.Item] = []


def next_state(
    current: CartRow | None, cart_id: str, lines: list[dict[str, Any]], now: int, delay_us: int
) -> CartChange:
    """The change a snapshot with `lines` makes to the contact's latest cart `current`
    (None: none). After a purchase, a snapshot with the lines the cart had or the purchase
    bought (or an empty one) is stale; different lines start a new cart."""
    has_items = bool(lines)
    if current is not None and current.state in CLOSED:
        if not has_items or _key(lines) in (
            _key(current.lines),
            _key(current.closed_lines or current.lines),
        ):
            return CartChange(outcome="stale")
        current = None
    if current is None:
        if not has_items:
            return CartChange(outcome="unchanged")
        return CartChange(
            outcome="created",
            state="active",
            abandon_at=now + delay_us,
            reason="first snapshot with items",
            items=diff(cart_id, [], lines),
        )
    if same_lines(lines, current.lines):
        return CartChange(outcome="unchanged")
    state = "active" if has_items else "empty"
    return CartChange(
        outcome="updated",
        state=state,
        abandon_at=now + delay_us if has_items else None,
        reason=None if state == current.state else _REASONS.get((current.state, state), "snapshot"),
        items=diff(cart_id, current.lines, lines),
    )


def inferred(candidates: list[CartRow], bought: set[str]) -> CartRow | None:
    """The cart a purchase without a cartId closes: the first open cart (most recently
    changed first) whose every product was bought."""
    for row in candidates:
        held = {ln["productId"] for ln in row.lines}
        if held and held <= bought:
            return row
    return None


def closed_state(current: str) -> str:
    """A purchase recovers an abandoned cart and closes any other as purchased."""
    return "recovered" if current == "abandoned" else "purchased"


# -- what the open transaction knows ---------------------------------------------------------


class _Known(msgspec.Struct):
    """The latest cart of (store, contact, cart id) as the open transaction knows it, and the
    (store, contact) pairs whose every cart is known (a miss then means no cart)."""

    latest: dict[tuple[str, str, str], CartRow | None] = {}
    complete: set[tuple[str, str]] = set()


def _known(conn: Conn) -> _Known:
    return conn.memo(_Known)


def forget(conn: Conn) -> None:
    """Drop what the transaction knows of carts (after moving carts between contacts)."""
    conn.forget_memo(_Known)


def _forget_one(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> None:
    known = _known(conn)
    known.latest.pop((store_id, contact_id, cart_id), None)
    known.complete.discard((store_id, contact_id))


def new_contact(conn: Conn, store_id: str, contact_id: str) -> None:
    """A contact created in this transaction has no carts yet."""
    _known(conn).complete.add((store_id, contact_id))


def prefetch(conn: Conn, store_id: str, contact_ids: list[str]) -> None:
    """The latest carts of many contacts in one round trip, for the requests of one
    transaction."""
    known = _known(conn)
    wanted = [c for c in dict.fromkeys(contact_ids) if (store_id, c) not in known.complete]
    if not wanted:
        return
    for row in stored.latest_of_contacts(conn, store_id, wanted):
        known.latest[(store_id, row.contact_id, row.cart_id)] = row
    known.complete.update((store_id, c) for c in wanted)


def _latest(conn: Conn, store_id: str, contact_id: str, cart_id: str) -> CartRow | None:
    known = _known(conn)
    key = (store_id, contact_id, cart_id)
    if key in known.latest:
        return known.latest[key]
    if (store_id, contact_id) in known.complete:
        return None
    row = known.latest[key] = stored.latest(conn, store_id, contact_id, cart_id)
    return row


# -- applying the rules ----------------------------------------------------------------------


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
    lines = [line(i) for i in cart.products]
    row = _latest(conn, store_id, contact_id, cart.cartId)
    change = next_state(row, cart.cartId, lines, now, delay_us)
    if change.outcome == "created":
        assert change.state is not None and change.reason is not None
        cart_row = stored.insert(
            conn,
            NewCart(
                store_id=store_id,
                contact_id=contact_id,
                cart_id=cart.cartId,
                state=change.state,
                lines=dumps(lines),
                total_price=money_to_db(cart.totalPrice),
                total_quantity=cart.totalQuantity,
                currency=cart.currency or currency,
                recovery_url=cart.cartRecoveryUrl,
                at=now,
                abandon_at=change.abandon_at,
            ),
        )
        _known(conn).latest[(store_id, contact_id, cart.cartId)] = CartRow(
            id=cart_row,
            contact_id=contact_id,
            cart_id=cart.cartId,
            state=change.state,
            lines=lines,
            closed_lines=None,
        )
        stored.transition(
            conn, store_id, cart_row, now, None, change.state, change.reason, request_id
        )
    elif change.outcome == "updated":
        assert row is not None and change.state is not None
        stored.update_lines(
            conn,
            row.id,
            state=change.state,
            lines=dumps(lines),
            total_price=money_to_db(cart.totalPrice),
            total_quantity=cart.totalQuantity,
            recovery_url=cart.cartRecoveryUrl,
            at=now,
            abandon_at=change.abandon_at,
        )
        old_state, row.state, row.lines = row.state, change.state, lines  # the memo's row too
        if change.reason is not None:
            stored.transition(
                conn, store_id, row.id, now, old_state, change.state, change.reason, request_id
            )
    timeline.add_many(conn, store_id, contact_id, now, change.items)
    return change.outcome


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
    lines = [line(i) for i in purchase.products]
    if purchase.cartId:
        row = _latest(conn, store_id, contact_id, purchase.cartId)
        link = "explicit"
        if row is None:
            cart_row = stored.insert(
                conn,
                NewCart(
                    store_id=store_id,
                    contact_id=contact_id,
                    cart_id=purchase.cartId,
                    state="purchased",
                    lines=dumps(lines),
                    total_price=total_price,
                    total_quantity=purchase.totalQuantity,
                    currency=currency,
                    recovery_url=None,
                    at=now,
                    abandon_at=None,
                    purchase_id=purchase.purchaseId,
                    purchase_link=link,
                    closed_lines=dumps(lines),
                ),
            )
            reason = f"purchase {purchase.purchaseId} before any snapshot"
            stored.transition(conn, store_id, cart_row, now, None, "purchased", reason, request_id)
            _forget_one(conn, store_id, contact_id, purchase.cartId)
            return "purchased", cart_row
        if row.state in CLOSED:
            return "already-closed", row.id
    else:
        link = "inferred"
        candidates = stored.open_of_contact(conn, store_id, contact_id, INFER_AMONG)
        row = inferred(candidates, {i.productId for i in purchase.products})
        if row is None:
            return "no-cart", None
    new_state = closed_state(row.state)
    _forget_one(conn, store_id, contact_id, row.cart_id)
    stored.close(
        conn,
        row.id,
        state=new_state,
        at=now,
        purchase_id=purchase.purchaseId,
        link=link,
        lines=dumps(lines or row.lines),
    )
    reason = f"purchase {purchase.purchaseId} ({link} link)"
    stored.transition(conn, store_id, row.id, now, row.state, new_state, reason, request_id)
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
    stored.never_abandon(conn, store_id, contact_id, cart_id)


def mark_due_abandoned(conn: Conn, now: int, limit: int = 500) -> int:
    """One worker step: abandon due active carts (claimed through the deadline index with a
    compare-and-set). Give how many were abandoned. Call it inside a transaction."""
    forget(conn)
    count = 0
    for cart_row in stored.due(conn, now, limit):
        cart = stored.abandon(conn, cart_row, now)
        if cart is None:
            continue
        count += 1
        stored.transition(
            conn,
            cart.store_id,
            cart.id,
            now,
            "active",
            "abandoned",
            "no change within the store's abandonment delay",
            None,
        )
        timeline.add(
            conn,
            cart.store_id,
            cart.contact_id,
            now,
            "cart-abandoned",
            {"cartId": cart.cart_id, "cartKey": str(cart.id)},
        )
        outbox.emit(
            conn,
            cart.store_id,
            "cart.abandoned",
            now,
            {
                "cartKey": str(cart.id),
                "cartId": cart.cart_id,
                "contactId": cart.contact_id,
                "email": contacts.email_of(conn, cart.contact_id),
                "totalPrice": money_from_db(cart.total_price),
                "currency": cart.currency,
                "lines": cart.lines,
                "cartRecoveryUrl": cart.recovery_url,
            },
        )
    return count
