"""Segment messages (identify, track, page, screen, alias, group) mapped to Connectif-style
envelopes (`events`, `entityInfo`, `browserInfo`, `pageInfo`, `requestId`).

Values are passed on as sent (numbers exactly, as their JSON text), so the verdicts
(coercions, rejections) are the ones any other channel gets. Cart changes (`Product Added`,
`Product Removed`) cannot be made into a snapshot before the transaction: they come out as
`cart_change`, applied inside it (`cart_changes.py`). See docs/segment.md.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import msgspec

from shopevents.ingest.adjustment_events import CANCELLATION, REFUND

# Segment e-commerce spec v2 event names -> what they become.
PURCHASE = "Order Completed"
PRODUCT_VIEWED = "Product Viewed"
PRODUCTS_SEARCHED = "Products Searched"
CART_ADD = "Product Added"
CART_REMOVE = "Product Removed"
CART_VIEWED = "Cart Viewed"
CHECKOUT_STARTED = "Checkout Started"
ORDER_REFUNDED = "Order Refunded"
ORDER_CANCELLED = "Order Cancelled"


def text_of(v: Any) -> str | None:
    """A non-blank text (without NUL, U+0000, as every ingested text) or a number as text;
    anything else None."""
    if isinstance(v, str) and "\x00" in v:
        v = v.replace("\x00", "")
    if isinstance(v, str) and v.strip():
        return v
    if isinstance(v, int | Decimal) and not isinstance(v, bool):
        return str(v)
    return None


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def request_key(message_id: str) -> str:
    """The request key of a message: its messageId (hashed if over the key's 128 characters)."""
    key = "segment:" + message_id.replace("\x00", "")
    if len(key) > 128:
        key = "segment:sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return key


def email_of(msg: dict[str, Any]) -> str | None:
    """The contact's e-mail: `traits.email` (identify), `context.traits.email`, or a
    `userId` that is an e-mail."""
    for source in (_obj(msg.get("traits")), _obj(_obj(msg.get("context")).get("traits"))):
        email = text_of(source.get("email"))
        if email:
            return email
    uid = text_of(msg.get("userId"))
    if uid and "@" in uid:
        return uid
    return None


def tracker_of(msg: dict[str, Any]) -> str | None:
    """The tracker: the `anonymousId` (one browser or device), else `user:` + `userId`."""
    anon = text_of(msg.get("anonymousId"))
    if anon:
        return anon[:64]
    uid = text_of(msg.get("userId"))
    return ("user:" + uid)[:64] if uid else None


_TRAIT_FIELDS = {
    "firstName": "_name",
    "first_name": "_name",
    "lastName": "_surname",
    "last_name": "_surname",
    "phone": "_mobilePhone",
    "birthday": "_birthdate",
}
_NOT_CUSTOM = {"email", "name", "address", "id"}


def entity_of(msg: dict[str, Any]) -> dict[str, Any]:
    entity: dict[str, Any] = {}
    email = email_of(msg)
    if email:
        entity["primaryKey"] = email
    tracker = tracker_of(msg)
    if tracker:
        entity["trackerId"] = tracker
    if msg.get("type") == "identify":
        traits = _obj(msg.get("traits"))
        for k, v in traits.items():
            if k in _TRAIT_FIELDS:
                entity.setdefault(_TRAIT_FIELDS[k], v)
            elif k not in _NOT_CUSTOM and not k.startswith("_") and k not in entity:
                entity[k] = v
        if "_name" not in entity and isinstance(traits.get("name"), str):
            first, _, last = traits["name"].partition(" ")
            entity["_name"] = first
            if last:
                entity["_surname"] = last
        uid = text_of(msg.get("userId"))
        if uid:
            entity.setdefault("segmentUserId", uid)
    return entity


def product_of(p: dict[str, Any], *, line: bool = False) -> dict[str, Any]:
    """A Segment product as ours; a basket line with `quantity` (default 1) and `price` the
    line total (unit price × quantity)."""
    out: dict[str, Any] = {}
    pid = p.get("product_id", p.get("sku", p.get("id")))
    if pid is not None:
        out["productId"] = text_of(pid) or pid
    name = p.get("name")
    out["name"] = name if name is not None else out.get("productId", "")
    out["productDetailUrl"] = p.get("url", "")
    if "price" in p:
        out["unitPrice"] = p["price"]
    if p.get("image_url") is not None:
        out["imageUrl"] = p["image_url"]
    if p.get("brand") is not None:
        out["brand"] = p["brand"]
    if isinstance(p.get("category"), str):
        cat = p["category"]
        out["categories"] = [cat if cat.startswith("/") else "/" + cat]
    if p.get("sku") is not None and p.get("product_id") is not None:
        out["customField1"] = p["sku"]
    if line:
        qty = p.get("quantity", 1)
        out["quantity"] = qty
        price = p.get("price")
        if isinstance(price, int | Decimal) and isinstance(qty, int) and not isinstance(qty, bool):
            out["price"] = Decimal(price) * qty
        elif price is not None:
            out["price"] = price
    return out


def _lines(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [product_of(p, line=True) for p in props.get("products") or [] if isinstance(p, dict)]


def total_of(lines: list[dict[str, Any]], key: str) -> Any:
    total: Any = 0
    for ln in lines:
        v = ln.get(key)
        if not isinstance(v, int | Decimal) or isinstance(v, bool):
            return None
        total += v
    return total


def purchase_of(msg: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    lines = _lines(props)
    purchase: dict[str, Any] = {"products": lines}
    if props.get("order_id") is not None:
        purchase["purchaseId"] = text_of(props["order_id"]) or props["order_id"]
    total = props.get("total", props.get("revenue"))
    purchase["totalPrice"] = total if total is not None else total_of(lines, "price")
    purchase["totalQuantity"] = total_of(lines, "quantity")
    for key, ours in (("currency", "currency"), ("cart_id", "cartId")):
        if props.get(key) is not None:
            purchase[ours] = props[key]
    if isinstance(msg.get("timestamp"), str):
        purchase["purchaseDate"] = msg["timestamp"]
    purchase["source_name"] = "segment"
    return {k: v for k, v in purchase.items() if v is not None}


def cart_snapshot(props: dict[str, Any], cart_id: str) -> dict[str, Any]:
    lines = _lines(props)
    cart: dict[str, Any] = {
        "cartId": text_of(props.get("cart_id")) or cart_id,
        "products": lines,
        "totalQuantity": total_of(lines, "quantity"),
        "totalPrice": total_of(lines, "price"),
    }
    if props.get("currency") is not None:
        cart["currency"] = props["currency"]
    return {k: v for k, v in cart.items() if v is not None}


def adjustment_of(
    name: str, msg: dict[str, Any], props: dict[str, Any], message_id: str
) -> dict[str, Any]:
    """`Order Refunded` / `Order Cancelled` as the ingest extension's refund or cancellation
    event: the refund is `total` (or `revenue`, `value`) when given, else the `products`
    (product_id and quantity) returned; its id is the message's, its date the message's
    `timestamp`. A refund naming neither is a whole refund: its lines are not known here, so
    it is recorded as the purchase's cancellation (net revenue is the same)."""
    payload: dict[str, Any] = {"purchaseId": props["order_id"]}
    when = msg.get("timestamp")
    amount = next((props[k] for k in ("total", "revenue", "value") if k in props), None)
    products = props.get("products")
    lines = (
        [
            {"productId": p.get("product_id", p.get("sku")), "quantity": p.get("quantity", 1)}
            for p in products
            if isinstance(p, dict)
        ]
        if isinstance(products, list)
        else []
    )
    if name == ORDER_REFUNDED and (amount is not None or lines):
        payload["refundId"] = "segment:" + message_id[:100]
        if isinstance(when, str):
            payload["refundedAt"] = when
        if amount is not None:
            payload["amount"] = amount
        else:
            payload["lines"] = lines
        if isinstance(props.get("reason"), str):
            payload["reason"] = props["reason"]
        return {"type": "custom", "eventId": REFUND, "payload": payload}
    if isinstance(when, str):
        payload["cancelledAt"] = when
    payload["reason"] = props["reason"] if isinstance(props.get("reason"), str) else name
    return {"type": "custom", "eventId": CANCELLATION, "payload": payload}


class Mapped(msgspec.Struct, kw_only=True):
    """One message as an envelope, and what was made of it (shown in the debugger)."""

    envelope: dict[str, Any]
    mapping: str
    cart_change: tuple[str, dict[str, Any]] | None = None


def map_message(msg: dict[str, Any], message_id: str) -> Mapped:
    kind = msg.get("type")
    props = _obj(msg.get("properties"))
    context = _obj(msg.get("context"))
    page = _obj(context.get("page"))
    env: dict[str, Any] = {"events": []}
    entity = entity_of(msg)
    if entity:
        env["entityInfo"] = entity
    mapping = f"{kind}: no event"
    change = None
    if kind == "page" or kind == "screen":
        url = props.get("url", page.get("url"))
        title = props.get("title", page.get("title", msg.get("name")))
        browser: dict[str, Any] = {}
        if isinstance(url, str):
            browser["url"] = url
        ref = props.get("referrer", page.get("referrer"))
        if ref is not None:
            browser["referrer"] = ref
        if context.get("campaign") is not None:
            browser["campaign"] = context["campaign"]
        if browser:
            env["browserInfo"] = browser
        if isinstance(title, str):
            env["pageInfo"] = {"title": title}
        env["events"] = [{"type": "page-visit"}]
        mapping = f"{kind} -> page-visit"
    elif kind == "track":
        event = msg.get("event")
        name = event if isinstance(event, str) else ""
        if name == PURCHASE:
            env["events"] = [{"type": "purchase", "purchase": purchase_of(msg, props)}]
            mapping = "Order Completed -> purchase"
        elif name == PRODUCT_VIEWED:
            env["events"] = [{"type": "product-visited", "product": product_of(props)}]
            mapping = "Product Viewed -> product-visited"
        elif name == PRODUCTS_SEARCHED:
            env["events"] = [{"type": "search", "searchText": props.get("query")}]
            mapping = "Products Searched -> search"
        elif name in (CART_ADD, CART_REMOVE):
            change = ("add" if name == CART_ADD else "remove", props)
            mapping = f"{name} -> cart change applied to the active cart"
        elif name in (CART_VIEWED, CHECKOUT_STARTED) and props.get("products"):
            env["cart"] = cart_snapshot(props, "segment-" + message_id[:40])
            mapping = f"{name} -> cart snapshot"
            if name == CHECKOUT_STARTED:
                env["events"] = [{"type": "custom", "eventId": name, "payload": props}]
                mapping += " and custom event"
        elif name in (ORDER_REFUNDED, ORDER_CANCELLED) and isinstance(props.get("order_id"), str):
            adjustment = adjustment_of(name, msg, props, message_id)
            env["events"] = [adjustment]
            mapping = f"{name} -> {adjustment['eventId']}"
        else:
            env["events"] = [{"type": "custom", "eventId": name, "payload": props}]
            mapping = f"{name or '(no event name)'} -> custom"
    if isinstance(page.get("url"), str) and "browserInfo" not in env:
        env["browserInfo"] = {"url": page["url"]}
    env["requestId"] = request_key(message_id)
    return Mapped(envelope=env, mapping=mapping, cart_change=change)
