"""The page model: what a demo shop page tells the client script, in the script's
JavaScript shapes. Both variants (`js` and `tags`) are built from it, so they send the same
events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shopevents.demoshop.catalog import CATALOG, Product
from shopevents.demoshop.state import PAYMENT_METHODS, Cart, Customer, Order

VARIANTS = ("js", "tags")

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
