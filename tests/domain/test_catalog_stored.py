"""The catalog: every product seen is upserted; an unchanged product seen again shortly after
is not rewritten, a changed one is, at once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from shopevents.clock import to_micros
from shopevents.domain import catalog
from shopevents.schema import models as m
from shopevents.schema.verdicts import money_hook
from tests.shop import Shop, product


def _products(shop: Shop) -> dict[str, tuple[str, int, int]]:
    rows = shop.q("SELECT product_id, name, unit_price, last_seen FROM products")
    return {r[0]: (r[1], int(r[2]), int(r[3])) for r in rows}


def _upsert(shop: Shop, recent: catalog.RecentWrites, *products: dict[str, Any]) -> None:
    decoder = msgspec.json.Decoder(m.Product, dec_hook=money_hook, float_hook=Decimal)
    models = [decoder.decode(msgspec.json.encode(p)) for p in products]
    with shop.conn.transaction():
        catalog.upsert(shop.conn, shop.store.id, models, to_micros(shop.clock.now()), recent)


def test_unchanged_products_are_not_rewritten_within_the_window(shop: Shop) -> None:
    recent = catalog.RecentWrites(window_us=60_000_000)
    _upsert(shop, recent, product("A", "10"), product("B", "5"))
    first = _products(shop)
    assert first["A"][:2] == ("Product A", 10_000_000)

    shop.clock.advance(30)  # within the window, unchanged: nothing written
    _upsert(shop, recent, product("A", "10"), product("B", "5"))
    assert _products(shop) == first

    shop.clock.advance(1)  # a changed price is written at once
    _upsert(shop, recent, product("A", "12"))
    now = to_micros(shop.clock.now())
    assert _products(shop)["A"] == ("Product A", 12_000_000, now)
    assert _products(shop)["B"] == first["B"]

    shop.clock.advance(61)  # past the window, the unchanged one is written again
    _upsert(shop, recent, product("B", "5"))
    assert _products(shop)["B"][2] == to_micros(shop.clock.now())


def test_a_product_changed_back_is_written_again(shop: Shop) -> None:
    recent = catalog.RecentWrites()
    _upsert(shop, recent, product("A", "10"))
    _upsert(shop, recent, product("A", "10", name="Renamed"))
    _upsert(shop, recent, product("A", "10"))
    assert _products(shop)["A"][0] == "Product A"
