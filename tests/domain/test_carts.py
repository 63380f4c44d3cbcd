"""The cart rules on plain values: what a snapshot or a purchase does to a contact's cart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shopevents.domain import carts
from shopevents.storage.carts import CartRow

NOW = 1_000_000
DELAY = 3_600_000_000


def _line(pid: str, qty: int, price: str = "10", name: str = "P") -> dict[str, Any]:
    return {"productId": pid, "name": name, "quantity": qty, "price": Decimal(price)}


def _row(state: str, lines: list[dict[str, Any]], closed: Any = None) -> CartRow:
    return CartRow(id=7, contact_id="c", cart_id="k", state=state, lines=lines, closed_lines=closed)


def test_a_first_snapshot_with_items_creates_an_active_cart_with_a_deadline() -> None:
    change = carts.next_state(None, "k", [_line("a", 2)], NOW, DELAY)
    assert (change.outcome, change.state, change.abandon_at) == ("created", "active", NOW + DELAY)
    assert change.reason == "first snapshot with items"
    assert change.items == [
        ("cart-product-added", None, {"cartId": "k", "productId": "a", "name": "P", "quantity": 2})
    ]


def test_an_empty_snapshot_of_no_cart_changes_nothing() -> None:
    assert carts.next_state(None, "k", [], NOW, DELAY).outcome == "unchanged"


def test_the_same_lines_in_another_order_or_price_spelling_are_unchanged() -> None:
    row = _row("active", [_line("a", 1, "10.0"), _line("b", 2)])
    change = carts.next_state(row, "k", [_line("b", 2), _line("a", 1, "10")], NOW, DELAY)
    assert change.outcome == "unchanged" and change.items == []


def test_emptying_a_cart_drops_its_deadline_and_says_why() -> None:
    change = carts.next_state(_row("active", [_line("a", 1)]), "k", [], NOW, DELAY)
    assert (change.outcome, change.state, change.abandon_at) == ("updated", "empty", None)
    assert change.reason == "emptied"
    assert [i[0] for i in change.items] == ["cart-product-removed"]


def test_a_changed_abandoned_cart_is_active_again() -> None:
    row = _row("abandoned", [_line("a", 1)])
    change = carts.next_state(row, "k", [_line("a", 3)], NOW, DELAY)
    assert (change.state, change.reason) == ("active", "changed after abandonment")
    assert change.items == [
        ("cart-product-added", None, {"cartId": "k", "productId": "a", "name": "P", "quantity": 2})
    ]


def test_a_change_within_a_state_has_no_transition() -> None:
    change = carts.next_state(_row("active", [_line("a", 1)]), "k", [_line("a", 2)], NOW, DELAY)
    assert change.outcome == "updated" and change.reason is None


def test_after_a_purchase_the_same_or_bought_lines_are_stale_and_new_lines_start_a_cart() -> None:
    row = _row("purchased", [_line("a", 1)], closed=[_line("a", 1), _line("b", 1)])
    assert carts.next_state(row, "k", [_line("a", 1)], NOW, DELAY).outcome == "stale"
    assert carts.next_state(row, "k", [_line("b", 1), _line("a", 1)], NOW, DELAY).outcome == "stale"
    assert carts.next_state(row, "k", [], NOW, DELAY).outcome == "stale"
    assert carts.next_state(row, "k", [_line("c", 1)], NOW, DELAY).outcome == "created"


def test_diff_counts_quantities_up_and_down_and_removed_products() -> None:
    items = carts.diff("k", [_line("a", 3), _line("b", 1)], [_line("a", 1), _line("c", 2)])
    assert [(i[0], i[2]["productId"], i[2]["quantity"]) for i in items] == [
        ("cart-product-removed", "a", 2),
        ("cart-product-added", "c", 2),
        ("cart-product-removed", "b", 1),
    ]


def test_a_purchase_without_cart_id_closes_the_first_open_cart_it_covers() -> None:
    partial = _row("active", [_line("a", 1), _line("z", 1)])
    covered = _row("abandoned", [_line("a", 1)])
    empty = _row("active", [])
    assert carts.inferred([empty, partial, covered], {"a", "b"}) is covered
    assert carts.inferred([partial], {"a"}) is None


def test_a_purchase_recovers_an_abandoned_cart_and_purchases_any_other() -> None:
    assert carts.closed_state("abandoned") == "recovered"
    assert carts.closed_state("active") == "purchased"
    assert carts.closed_state("empty") == "purchased"
