"""A handler's answer is checked against its Struct: a key the Struct lacks, a required key
missing or a value of another type is refused; an answer that fits is sent as it is."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from shopevents.api.shapes.base import answer
from shopevents.api.shapes.catalog import Store
from shopevents.api.shapes.people import Contact

STORE = {
    "id": "s1",
    "name": "Shop",
    "currency": "EUR",
    "reportingCurrency": "EUR",
    "timezone": "Europe/Madrid",
    "domains": ["shop.example"],
    "abandonAfterSeconds": 3600,
    "tagMode": False,
    "trackingEnabled": True,
    "excludedPaths": [],
    "keepBots": False,
    "consentRequired": False,
    "honourGpc": True,
}


def test_an_answer_that_fits_is_sent_as_it_is() -> None:
    r = answer(Store, STORE, 201)
    assert r.status_code == 201 and msgspec.json.decode(r.body) == STORE


def test_a_key_the_struct_lacks_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `extra`"):
        answer(Store, {**STORE, "extra": 1})


def test_a_missing_required_key_is_refused() -> None:
    missing = {k: v for k, v in STORE.items() if k != "currency"}
    with pytest.raises(msgspec.ValidationError, match="missing required field `currency`"):
        answer(Store, missing)


def test_a_value_of_another_type_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        answer(Store, {**STORE, "tagMode": "no"})


def test_a_contact_keeps_custom_fields_and_decimal_amounts() -> None:
    contact = {
        "id": "c1",
        "_email": "ana@example.com",
        "_createdAt": "2026-01-01T00:00:00.000Z",
        "_updatedAt": "2026-01-01T00:00:00.000Z",
        "_isAnonymous": False,
        "_totalPurchases": 1,
        "_totalPurchasesAmount": Decimal("24.90"),
        "_averagePurchasesAmount": Decimal("24.90"),
        "_refundedPurchasesAmount": Decimal(0),
        "_netPurchases": 1,
        "_netPurchasesAmount": Decimal("24.90"),
        "_averageNetPurchasesAmount": Decimal("24.90"),
        "_firstPurchaseDate": None,
        "_lastPurchaseDate": None,
        "loyalty_tier": "gold",
    }
    body = msgspec.json.decode(answer(Contact, contact).body)
    assert body["loyalty_tier"] == "gold" and body["_totalPurchasesAmount"] == 24.9
