"""The catalog rules on plain values: which products a request writes."""

from __future__ import annotations

from decimal import Decimal

from shopevents.domain import catalog
from shopevents.schema import models as m


def _product(pid: str, name: str, price: str = "5") -> m.Product:
    return m.Product(
        productId=pid, name=name, unitPrice=Decimal(price), productDetailUrl=f"/p/{pid}"
    )


def test_the_last_occurrence_of_a_product_in_a_request_wins() -> None:
    rows = catalog.writes("s", [_product("a", "old"), _product("b", "B"), _product("a", "new")], 9)
    assert [(r.product_id, r.name, r.at) for r in rows] == [("a", "new", 9), ("b", "B", 9)]
    assert rows[0].unit_price == 5_000_000


def test_a_product_written_lately_with_the_same_data_is_not_written_again() -> None:
    recent = catalog.RecentWrites(window_us=100)
    assert len(catalog.writes("s", [_product("a", "A")], 10, recent)) == 1
    assert catalog.writes("s", [_product("a", "A")], 50, recent) == []
    assert len(catalog.writes("s", [_product("a", "changed")], 60, recent)) == 1
    assert len(catalog.writes("s", [_product("a", "changed")], 200, recent)) == 1


def test_line_only_fields_are_not_product_data() -> None:
    item = m.BasketItem(
        productId="a",
        name="A",
        unitPrice=Decimal(5),
        productDetailUrl="/p/a",
        quantity=2,
        price=Decimal(10),
    )
    data = catalog.product_data(item)
    assert "quantity" not in data and "price" not in data and data["productId"] == "a"
