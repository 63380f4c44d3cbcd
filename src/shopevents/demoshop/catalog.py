"""The demo shop's products and the categories they fall in."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


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
