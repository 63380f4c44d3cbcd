"""A Segment `Product Added` / `Product Removed`, applied inside the transaction to the
contact's active cart (or a new one)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from shopevents.schema.verdicts import CheckContext, Verdict, decode_cart
from shopevents.segment.mapping import product_of, text_of, total_of
from shopevents.storage import carts
from shopevents.storage.database import Conn

_ENCODER = msgspec.json.Encoder(decimal_format="number")


class CartChange:
    """A `Product Added` / `Product Removed`, applied inside the transaction to the contact's
    active cart (or a new one): the cart's verdict, as if the snapshot had been sent."""

    def __init__(self, op: str, props: dict[str, Any], ctx: CheckContext, mid: str) -> None:
        self.op, self.props, self.ctx, self.mid = op, props, ctx, mid

    def __call__(self, conn: Conn, store_id: str, contact_id: str) -> Verdict:
        wanted = text_of(self.props.get("cart_id"))
        row = carts.latest_not_closed(conn, store_id, contact_id, wanted)
        lines: list[dict[str, Any]] = row.lines if row else []
        cart_id = row.cart_id if row else wanted or "segment-" + (self.mid or "cart")[:40]
        line = product_of(self.props, line=True)
        pid = line.get("productId")
        current = [
            {
                "productId": ln["productId"],
                "name": ln.get("name") or ln["productId"],
                "productDetailUrl": ln.get("url") or "",
                "unitPrice": Decimal(str(ln["unitPrice"])),
                "quantity": int(ln["quantity"]),
                "price": Decimal(str(ln["price"])),
            }
            for ln in lines
        ]
        qty = line.get("quantity", 1)
        if not isinstance(qty, int) or isinstance(qty, bool):
            qty = None
        found = next((ln for ln in current if ln["productId"] == pid), None)
        if self.op == "add":
            if found is not None and qty is not None:
                found["quantity"] += qty
                found["price"] = found["unitPrice"] * found["quantity"]
            else:
                current.append(line)
        elif found is not None:
            left = 0 if qty is None or "quantity" not in self.props else found["quantity"] - qty
            if left > 0:
                found["quantity"] = left
                found["price"] = found["unitPrice"] * left
            else:
                current.remove(found)
        cart = {
            "cartId": cart_id,
            "products": current,
            "totalQuantity": total_of(current, "quantity"),
            "totalPrice": total_of(current, "price"),
        }
        currency = self.props.get("currency") or (row.currency if row else None)
        if currency:
            cart["currency"] = currency
        return decode_cart(
            _ENCODER.encode({k: v for k, v in cart.items() if v is not None}), self.ctx
        )
