"""The purchase ledger's rules on plain values: what makes two records the same purchase."""

from __future__ import annotations

from decimal import Decimal

from shopevents.domain import purchases
from shopevents.schema import models as m


def _purchase(*lines: tuple[str, int, str], total: str = "30", pid: str = "o1") -> m.Purchase:
    items = [
        m.BasketItem(
            productId=p,
            name=p,
            unitPrice=Decimal(price),
            productDetailUrl=f"/p/{p}",
            quantity=q,
            price=Decimal(price),
        )
        for p, q, price in lines
    ]
    return m.Purchase(
        purchaseId=pid,
        totalQuantity=sum(q for _, q, _ in lines),
        totalPrice=Decimal(total),
        products=items,
    )


def test_the_same_content_in_another_order_or_spelling_has_the_same_fingerprint() -> None:
    a = purchases.fingerprint(_purchase(("a", 1, "10"), ("b", 2, "10")), "EUR")
    b = purchases.fingerprint(_purchase(("b", 2, "10.00"), ("a", 1, "10.0"), total="30.0"), "EUR")
    assert a == b and len(a) == 32


def test_amounts_lines_and_currency_make_the_fingerprint() -> None:
    base = _purchase(("a", 1, "10"))
    assert purchases.fingerprint(base, "EUR") != purchases.fingerprint(base, "USD")
    assert purchases.fingerprint(base, "EUR") != purchases.fingerprint(
        _purchase(("a", 2, "10")), "EUR"
    )
    assert purchases.fingerprint(base, "EUR") != purchases.fingerprint(
        _purchase(("a", 1, "10"), total="31"), "EUR"
    )


def test_a_resend_is_a_duplicate_only_with_the_same_fingerprint() -> None:
    assert purchases.verdict(("f1", 7), "f1") == "duplicate"
    assert purchases.verdict(("f1", 7), "f2") == "conflict"
    assert purchases.verdict(None, "f1") == "conflict"
