"""The products simulated visitors browse and buy: the demo shop's (same ids and URLs as
/demo/) and a few more."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shopevents.demoshop.catalog import CATALOG
from shopevents.demoshop.page_model import product_js

EXTRA_PRODUCTS = (
    ("cup-07", "Espresso cups, set of 4", "18.00", "/Kitchen/Mugs", "Trailware"),
    ("pot-08", "Pour-over coffee pot", "32.50", "/Kitchen/Coffee", "Brewline"),
    ("grn-09", "Coffee grinder", "45.00", "/Kitchen/Coffee", "Brewline"),
    ("mat-10", "Cork desk mat", "22.00", "/Home/Office", "Lumio"),
    ("pen-11", "Refillable fountain pen", "27.90", "/Home/Office", "Scriba"),
    ("nb-12", "Dotted notebook A5", "8.50", "/Home/Office", "Scriba"),
    ("hd-13", "Cotton hoodie", "39.00", "/Clothing/Hoodies", "Plainly"),
    ("sk-14", "Wool socks, 3 pairs", "14.00", "/Clothing/Socks", "Plainly"),
    ("cb-15", "USB-C cable 2 m", "11.90", "/Computers/Cables", "Keyco"),
    ("hub-16", "USB-C hub, 7 ports", "34.00", "/Computers/Accessories", "Keyco"),
)

MONEY_FIELDS = ("unitPrice", "unitPriceOriginal", "discountedAmount", "discountedPercentage")


def _exact(product: dict[str, Any]) -> dict[str, Any]:
    """The product with its amounts as exact decimals: `Decimal(18.4)` is
    18.39999999999999857891452847979962825775146484375, and sums of such amounts reach the
    server as `18.400000000000000355…` (a `rounded_amount` warning a healthy shop never
    gets); the decimal of the amount's shortest text is the price the shop shows."""
    return {
        k: Decimal(str(v)) if k in MONEY_FIELDS and isinstance(v, float | int) else v
        for k, v in product.items()
    }


def catalog(base: str) -> list[dict[str, Any]]:
    """The demo shop's products (same ids and URLs as /demo/) and a few more."""
    out = [_exact(product_js(p, base, "js")) for p in CATALOG.values()]
    for pid, name, price, cat, brand in EXTRA_PRODUCTS:
        out.append(
            {
                "productId": pid,
                "name": name,
                "productDetailUrl": f"{base}/demo/js/product/{pid}",
                "unitPrice": Decimal(price),
                "availability": "instock",
                "brand": brand,
                "categories": [cat],
            }
        )
    return out
