"""A small demo shop served under /demo/ for the demo store.

Two variants show the two ways to integrate: `js` calls `connectif.managed.sendEvents` on
every page, `tags` renders Connectif's hidden HTML tags and lets the script read them. Both
are built from the same page model, so they send the same events. The shop keeps its state
(cart, customer, last order) in a cookie; everything read from it is validated.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

VARIANTS = ("js", "tags")
MAX_QTY = 20
PAYMENT_METHODS = {"card": "Credit card", "paypal": "PayPal", "transfer": "Bank transfer"}


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: Decimal
    category: str
    brand: str
    description: str
    color: str
    original_price: Decimal | None = None
    tags: tuple[str, ...] = ()

    @property
    def category_slug(self) -> str:
        return self.category.strip("/").split("/")[0].lower()


CATALOG: dict[str, Product] = {
    p.id: p
    for p in (
        Product(
            "mug-01",
            "Enamel camping mug",
            Decimal("12.50"),
            "/Kitchen/Mugs",
            "Trailware",
            "A light enamel mug that goes from the stove to the table.",
            "#2f6f8f",
        ),
        Product(
            "lamp-02",
            "Desk lamp",
            Decimal("24.90"),
            "/Lighting/Desk lamps",
            "Lumio",
            "An adjustable lamp with a warm LED.",
            "#d9a441",
            tags=("bestseller",),
        ),
        Product(
            "kb-03",
            "Wireless keyboard K-100",
            Decimal("39.00"),
            "/Computers/Keyboards",
            "Keyco",
            "A quiet wireless keyboard with a two-year battery.",
            "#444c5c",
            original_price=Decimal("49.00"),
            tags=("wireless", "sale"),
        ),
        Product(
            "ms-04",
            "Silent mouse",
            Decimal("19.95"),
            "/Computers/Mice",
            "Keyco",
            "A mouse you will not hear clicking.",
            "#6b8e23",
            tags=("wireless",),
        ),
        Product(
            "tee-05",
            "Organic cotton T-shirt",
            Decimal("15.00"),
            "/Clothing/T-shirts",
            "Plainly",
            "Soft, plain and made to last.",
            "#b5523b",
        ),
        Product(
            "bag-06",
            "Canvas tote bag",
            Decimal("9.90"),
            "/Clothing/Bags",
            "Plainly",
            "Carries the shopping, folds into a pocket.",
            "#8a7f5a",
        ),
    )
}

CATEGORIES: dict[str, str] = {}
for _p in CATALOG.values():
    CATEGORIES.setdefault(_p.category_slug, "/" + _p.category.strip("/").split("/")[0])

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


@dataclass
class Cart:
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

    @property
    def total_quantity(self) -> int:
        return sum(q for _, q in self.lines)

    @property
    def total_price(self) -> Decimal:
        return sum((CATALOG[p].price * q for p, q in self.lines), Decimal("0"))


@dataclass
class Customer:
    email: str
    name: str = ""
    surname: str = ""


@dataclass
class Order:
    id: str
    cart_id: str
    date: str
    lines: list[tuple[str, int]]
    payment: str

    @property
    def total_quantity(self) -> int:
        return sum(q for _, q in self.lines)

    @property
    def total_price(self) -> Decimal:
        return sum((CATALOG[p].price * q for p, q in self.lines), Decimal("0"))


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
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(value: str | None) -> State:
        """Reads the cookie; anything malformed is dropped rather than trusted."""
        state = State()
        if not value or len(value) > 3500:
            return state
        try:
            data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, binascii.Error):
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


# --- the page model: what a page tells the script, in the client's JavaScript shapes ----

EVENT_ORDER = (
    "product-visited",
    "product-searched",
    "product-not-found",
    "login",
    "register",
    "search",
    "newsletter-subscribe",
    "purchase",
)
"""The order in which the tag scraper emits events; the JS variant uses the same order."""


def money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def product_js(p: Product, base: str, variant: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "productId": p.id,
        "name": p.name,
        "productDetailUrl": f"{base}/demo/{variant}/product/{p.id}",
        "unitPrice": money(p.price),
        "imageUrl": f"{base}/demo/img/{p.id}.svg",
        "description": p.description,
        "availability": "instock",
        "brand": p.brand,
        "categories": [p.category],
    }
    if p.tags:
        out["tags"] = list(p.tags)
    if p.original_price:
        out["unitPriceOriginal"] = money(p.original_price)
        out["discountedAmount"] = money(p.original_price - p.price)
        out["discountedPercentage"] = money((p.original_price - p.price) * 100 / p.original_price)
    return out


def lines_js(lines: list[tuple[str, int]], base: str, variant: str) -> list[dict[str, Any]]:
    return [
        {
            **product_js(CATALOG[pid], base, variant),
            "quantity": q,
            "price": money(CATALOG[pid].price * q),
        }
        for pid, q in lines
    ]


def cart_js(cart: Cart, base: str, variant: str) -> dict[str, Any]:
    return {
        "cartId": cart.id,
        "totalQuantity": cart.total_quantity,
        "totalPrice": money(cart.total_price),
        "cartRecoveryUrl": f"{base}/demo/{variant}/cart",
        "products": lines_js(cart.lines, base, variant),
    }


def purchase_js(order: Order, base: str, variant: str) -> dict[str, Any]:
    return {
        "purchaseId": order.id,
        "cartId": order.cart_id,
        "purchaseDate": order.date,
        "paymentMethod": PAYMENT_METHODS[order.payment],
        "totalQuantity": order.total_quantity,
        "totalPrice": money(order.total_price),
        "source_type": "digital-store",
        "source_name": "shopevents demo shop",
        "products": lines_js(order.lines, base, variant),
    }


def entity_js(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    out = {"primaryKey": customer.email}
    if customer.name:
        out["_name"] = customer.name
    if customer.surname:
        out["_surname"] = customer.surname
    return out


def ordered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: EVENT_ORDER.index(e["type"]))
