"""What the demo shop remembers of a visitor (cart, customer, last order), kept in a cookie:
everything read from it is validated, and anything malformed is dropped."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shopevents.demoshop.catalog import CATALOG
from shopevents.jsoncodec import compact, loads_compact

MAX_QTY = 20
PAYMENT_METHODS = {"card": "Credit card", "paypal": "PayPal", "transfer": "Bank transfer"}

_CART_ID = re.compile(r"^cart-[0-9a-f]{12}$")
_ORDER_ID = re.compile(r"^ORD-[0-9A-F]{10}$")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[A-Za-z]{2,}$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


def valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value)) and len(value) <= 200


def clean_name(value: Any) -> str:
    return " ".join(str(value).split())[:60] if isinstance(value, str) else ""


def _clean_lines(raw: Any) -> list[tuple[str, int]]:
    lines: list[tuple[str, int]] = []
    if not isinstance(raw, list):
        return lines
    for item in raw[: len(CATALOG)]:
        if (
            isinstance(item, list)
            and len(item) == 2
            and item[0] in CATALOG
            and isinstance(item[1], int)
            and not isinstance(item[1], bool)
            and 0 < item[1] <= MAX_QTY
            and item[0] not in dict(lines)
        ):
            lines.append((item[0], item[1]))
    return lines


class LineTotals:
    """The totals of a cart's or an order's lines (product id, quantity)."""

    lines: list[tuple[str, int]]

    @property
    def total_quantity(self) -> int:
        return sum(q for _, q in self.lines)

    @property
    def total_price(self) -> Decimal:
        return sum((CATALOG[p].price * q for p, q in self.lines), Decimal("0"))


@dataclass
class Cart(LineTotals):
    id: str
    lines: list[tuple[str, int]] = field(default_factory=list)

    @staticmethod
    def new() -> Cart:
        return Cart(id="cart-" + secrets.token_hex(6))

    def quantity(self, product_id: str) -> int:
        return dict(self.lines).get(product_id, 0)

    def set(self, product_id: str, qty: int) -> None:
        qty = max(0, min(MAX_QTY, qty))
        others = [(p, q) for p, q in self.lines if p != product_id]
        if qty:
            pos = next((i for i, (p, _) in enumerate(self.lines) if p == product_id), len(others))
            others.insert(pos, (product_id, qty))
        self.lines = others


@dataclass
class Customer:
    email: str
    name: str = ""
    surname: str = ""


@dataclass
class Order(LineTotals):
    id: str
    cart_id: str
    date: str
    lines: list[tuple[str, int]]
    payment: str


@dataclass
class State:
    cart: Cart | None = None
    customer: Customer | None = None
    order: Order | None = None
    flash: list[str] = field(default_factory=list)

    def encode(self) -> str:
        data: dict[str, Any] = {}
        if self.cart:
            data["cart"] = {"id": self.cart.id, "lines": [list(x) for x in self.cart.lines]}
        if self.customer:
            data["customer"] = {
                "email": self.customer.email,
                "name": self.customer.name,
                "surname": self.customer.surname,
            }
        if self.order:
            o = self.order
            data["order"] = {
                "id": o.id,
                "cart": o.cart_id,
                "date": o.date,
                "lines": [list(x) for x in o.lines],
                "pay": o.payment,
            }
        if self.flash:
            data["flash"] = self.flash
        raw = compact(data).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(value: str | None) -> State:
        """Reads the cookie; anything malformed is dropped rather than trusted."""
        state = State()
        if not value or len(value) > 3500:
            return state
        try:
            data = loads_compact(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, RecursionError, binascii.Error):
            return state
        if not isinstance(data, dict):
            return state
        cart = data.get("cart")
        if (
            isinstance(cart, dict)
            and isinstance(cart.get("id"), str)
            and _CART_ID.match(cart["id"])
        ):
            state.cart = Cart(id=cart["id"], lines=_clean_lines(cart.get("lines")))
        cust = data.get("customer")
        if (
            isinstance(cust, dict)
            and isinstance(cust.get("email"), str)
            and valid_email(cust["email"])
        ):
            state.customer = Customer(
                cust["email"], clean_name(cust.get("name")), clean_name(cust.get("surname"))
            )
        order = data.get("order")
        if (
            isinstance(order, dict)
            and isinstance(order.get("id"), str)
            and _ORDER_ID.match(order["id"])
            and isinstance(order.get("cart"), str)
            and _CART_ID.match(order["cart"])
            and isinstance(order.get("date"), str)
            and _DATE.match(order["date"])
            and order.get("pay") in PAYMENT_METHODS
        ):
            lines = _clean_lines(order.get("lines"))
            if lines:
                state.order = Order(order["id"], order["cart"], order["date"], lines, order["pay"])
        flash = data.get("flash")
        if isinstance(flash, list):
            state.flash = [f for f in flash[:4] if f in ("login", "register", "newsletter")]
        return state


def new_order(cart: Cart, payment: str, now: datetime) -> Order:
    when = now.astimezone(UTC)
    return Order(
        id="ORD-" + secrets.token_hex(5).upper(),
        cart_id=cart.id,
        date=when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        lines=list(cart.lines),
        payment=payment,
    )
