"""Decoding with verdicts, in process: msgspec errors become verdicts in `rejection_of` only;
the fast typed path and the lenient path agree; pointers, messages and codes are right."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopevents.errors import CATALOG, ApiError
from shopevents.schema import models as m
from shopevents.schema.reasons import json_pointer, rejection_of
from shopevents.schema.verdicts import (
    CheckContext,
    decode_cart,
    decode_entity,
    decode_event,
    decode_leniently,
    decode_model,
    domain_allowed,
    read_envelope,
)

CTX = CheckContext(
    now=datetime(2024, 9, 13, 12, 0, tzinfo=UTC), currency="EUR", domains=["shop.example"]
)
LINE = {
    "productId": "SKU-42",
    "name": "Desk lamp",
    "productDetailUrl": "https://shop.example/p/sku-42",
    "unitPrice": 24.9,
    "quantity": 3,
    "price": 74.7,
}


def event(ev: Any, index: int = 0) -> Any:
    return decode_event(json.dumps(ev).encode(), index, CTX, 32 * 1024)


def purchase(**kw: Any) -> dict[str, Any]:
    p = {"purchaseId": "O-1", "totalQuantity": 3, "totalPrice": 74.7, "products": [dict(LINE)]}
    p.update(kw)
    return {"type": "purchase", "purchase": p}


# --- rejection_of: the one place msgspec errors become codes ----------------------------------


@pytest.mark.parametrize(
    ("text", "value", "missing", "code", "says"),
    [
        (
            "Object missing required field `purchaseId`",
            None,
            True,
            "missing_field",
            "Missing required field `purchaseId`",
        ),
        ("Expected a non-negative amount", Decimal(-1), False, "negative_value", "received -1"),
        ("Expected `int` >= 0", -3, False, "negative_value", "received -3"),
        ("Expected `int`, got `float`", Decimal("1.5"), False, "not_whole_number", "received 1.5"),
        ("Expected `str` of length >= 1", "", False, "empty_value", 'received ""'),
        ("Expected `object`, got `array`", [1], False, "not_an_object", "received [1]"),
        ("Expected `int` <= 1000000000", 10**12, False, "invalid_value", "received 1000000000000"),
        ("Expected an amount below 1e12", Decimal("1E+15"), False, "invalid_value", "below 1e12"),
        ("Invalid enum value 'x'", "x", False, "invalid_value", 'received "x"'),
        (
            "Expected `number`, got `str`",
            "abc",
            False,
            "invalid_type",
            'Expected `number`, got `str`; received "abc"',
        ),
        ("Expected `str`, got `int`", 5, False, "invalid_type", "received 5"),
    ],
)
def test_rejection_codes(text: str, value: Any, missing: bool, code: str, says: str) -> None:
    got_code, message = rejection_of(text, value, missing)
    assert got_code == code
    assert CATALOG[code].kind == "rejection"
    assert says in message


def test_long_values_are_cut_in_messages() -> None:
    _, message = rejection_of("Expected `number`, got `str`", "x" * 500, False)
    assert len(message) < 120 and message.endswith('..."') is False and "..." in message


@pytest.mark.parametrize(
    ("segs", "base", "pointer"),
    [
        ([], "", ""),
        (["purchase", "products", 0, "price"], "/events/3", "/events/3/purchase/products/0/price"),
        (["a/b", "c~d"], "", "/a~1b/c~0d"),
    ],
)
def test_json_pointers(segs: list[Any], base: str, pointer: str) -> None:
    assert json_pointer(segs, base) == pointer


# --- the envelope ---------------------------------------------------------------------------


def test_envelope_errors_name_line_column_and_pointer() -> None:
    with pytest.raises(ApiError) as err:
        read_envelope(
            b'{\n  "events": [\n    {"type": "login"}\n    {"type": "page-visit"}\n  ]\n}'
        )
    e = err.value
    assert (e.code, e.status) == ("invalid_json", 400)
    assert (e.errors[0]["line"], e.errors[0]["column"]) == (4, 5)
    assert "comma is probably missing at line 3, column 22" in e.message
    with pytest.raises(ApiError) as err:
        read_envelope(b'{"events": {"type": "login"}}')
    assert err.value.code == "invalid_envelope" and err.value.errors[0]["path"] == "/events"
    with pytest.raises(ApiError) as err:
        read_envelope(b'{"events": [], "\xff": 1}')
    assert err.value.code == "invalid_json" and "not UTF-8" in err.value.message
    with pytest.raises(ApiError) as err:
        read_envelope(b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert err.value.code == "invalid_json" and "nested too deeply" in err.value.message
    with pytest.raises(ApiError) as err:
        read_envelope(json.dumps({"requestId": "a\u0000"}).encode())
    assert err.value.code == "invalid_envelope" and "NUL" in err.value.message


def test_envelope_keeps_parts_raw_and_ignores_unknown_fields() -> None:
    env = read_envelope(
        b'{"events": [{"type": "login"}, 5], "cart": null, "later": {"x": 1}, "requestId": ""}'
    )
    assert [bytes(r) for r in env.events] == [b'{"type": "login"}', b"5"]
    assert bytes(env.cart) == b"null"
    assert env.requestId is None  # an empty key is no key


# --- events -----------------------------------------------------------------------------------


def test_fast_path_and_lenient_path_agree_on_the_examples() -> None:
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "docs" / "examples" / "events"
    for f in sorted(folder.glob("*.valid.json")):
        obj = json.loads(f.read_text())
        fast = event(obj)
        assert fast.status == "accepted" and fast.warnings == [], f.name
        cls = m.EVENT_TYPES[obj["type"]]
        obj = msgspec.json.Decoder(float_hook=Decimal).decode(f.read_bytes())
        slow, err = decode_leniently(obj, cls, "/events/0", [])
        assert err is None
        assert slow == fast.value[0], f.name


def test_aliases_are_read_even_when_the_event_is_otherwise_clean() -> None:
    v = event(purchase(sourceType="point-of-sale", sourceName="Till 3"))
    p = v.value[0].purchase
    assert (p.source_type, p.source_name) == ("point-of-sale", "Till 3")
    assert {w["code"] for w in v.warnings} == {"renamed_field"}


def test_nul_is_removed_from_texts_with_a_warning() -> None:
    v = event({"type": "search", "searchText": "lamp\u0000"})
    assert v.value[0].searchText == "lamp"
    assert (
        v.warnings[0]["code"] == "normalized_value"
        and v.warnings[0]["path"] == "/events/0/searchText"
    )
    v = event({"type": "search", "searchText": "\u0000"})
    assert (v.status, v.error["code"]) == ("rejected", "empty_value")
    v = event({"type": "bad\u0000type"})
    assert v.type == "bad\ufffdtype" and v.error["code"] == "unknown_type"
    product = {"productId": "p", "name": "n", "productDetailUrl": "/p", "unitPrice": 1}
    v = event({"type": "product-visited", "product": {**product, "tags": ["a", "b\u0000"]}})
    assert v.value[0].product.tags == ["a", "b"]
    assert [(w["code"], w["path"]) for w in v.warnings if w["code"] == "normalized_value"] == [
        ("normalized_value", "/events/0/product/tags/1")
    ]


def test_index_is_in_every_pointer() -> None:
    v = event(purchase(totalPrice="x"), index=7)
    assert v.index == 7 and v.error["path"] == "/events/7/purchase/totalPrice"


def test_too_large_and_too_deep() -> None:
    raw = json.dumps({"type": "custom", "eventId": "e", "payload": {"x": "y" * 100}}).encode()
    v = decode_event(raw, 2, CTX, 50)
    assert (v.status, v.type, v.error["code"], v.error["path"]) == (
        "rejected",
        "custom",
        "too_large",
        "/events/2",
    )
    deep = b'{"type":"custom","eventId":"e","payload":' + b"[" * 5000 + b"]" * 5000 + b"}"
    v = decode_event(deep, 0, CTX, 10**9)
    assert (v.status, v.error["code"]) == ("rejected", "too_deep")
    assert decode_cart(b"[" * 5000 + b"]" * 5000, CTX).error["code"] == "too_deep"
    assert decode_entity(b"[" * 5000 + b"]" * 5000, CTX).error["code"] == "too_deep"


def test_optional_field_dropped_keeps_the_rest() -> None:
    v = event(purchase(source_type="webshop", paymentMethod="card"))
    p = v.value[0].purchase
    assert p.source_type is None and p.paymentMethod == "card"


def test_money_is_decimal_and_rounded_past_six_places() -> None:
    v = event(
        purchase(
            totalPrice=0.1,
            products=[dict(LINE, unitPrice=0.1, quantity=1, price=0.1)],
            totalQuantity=1,
        )
    )
    p = v.value[0].purchase
    assert isinstance(p.totalPrice, Decimal) and p.totalPrice == Decimal("0.1")
    v = event(purchase(totalPrice=74.70000049))
    assert v.value[0].purchase.totalPrice == Decimal("74.700000")
    assert [w["code"] for w in v.warnings] == ["rounded_amount"]
    # trailing zeros past the sixth decimal change nothing: no warning
    raw = json.dumps(purchase()).replace('"totalPrice": 74.7', '"totalPrice": 74.700000000')
    v = decode_event(raw.encode(), 0, CTX, 32 * 1024)
    assert v.value[0].purchase.totalPrice == Decimal("74.7") and v.warnings == []


def test_purchase_date_is_parsed_once() -> None:
    v = event(purchase(purchaseDate="2024-09-13 12:49:31+0200"))
    parsed = v.value[1]
    assert (
        parsed.utc == datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC) and parsed.offset_minutes == 120
    )


@pytest.mark.parametrize(
    ("url", "domains", "ok"),
    [
        ("https://shop.example/p", ["shop.example"], True),
        ("https://WWW.Shop.Example/p", ["shop.example"], True),
        ("https://shop.example:8443/p", ["https://shop.example"], True),
        ("https://evilshop.example/p", ["shop.example"], False),
        ("https://shop.example.evil.test/p", ["shop.example"], False),
        ("/relative/path", ["shop.example"], False),
        ("http://[::1", ["shop.example"], False),
        ("anything", [], True),
    ],
)
def test_domain_allowed(url: str, domains: list[str], ok: bool) -> None:
    assert domain_allowed(url, domains) is ok


# --- entityInfo, cart, REST models ----------------------------------------------------------


def test_entity_info() -> None:
    v = decode_entity(
        json.dumps({"primaryKey": " A@B.co ", "_points": "7", "tier": "gold"}).encode(), CTX
    )
    assert v.value.fields.primaryKey == "a@b.co" and v.value.fields.points == 7
    assert v.value.custom == {"tier": "gold"}
    v = decode_entity(b'{"_emailStatus": "gone"}', CTX, base="")
    assert v.warnings[0]["path"] == "/_emailStatus"  # pointers relative to a REST body
    assert decode_entity(b"null", CTX).status == "absent"
    assert decode_entity(b"[]", CTX).error["code"] == "not_an_object"


def test_cart_rejects_only_what_cannot_be_used() -> None:
    v = decode_cart(
        json.dumps(
            {"cartId": "c", "totalQuantity": "3", "totalPrice": 74.7, "products": [LINE]}
        ).encode(),
        CTX,
    )
    assert v.status == "accepted" and [w["code"] for w in v.warnings] == ["coerced_number"]
    v = decode_cart(json.dumps({"cartId": "", "totalQuantity": 0, "totalPrice": 0}).encode(), CTX)
    assert (v.status, v.error["code"], v.error["path"]) == (
        "rejected",
        "empty_value",
        "/cart/cartId",
    )


def test_decode_model_paths_are_relative_to_the_body() -> None:
    v = decode_model(
        json.dumps({"name": "n", "productDetailUrl": "u", "unitPrice": -1}).encode(),
        m.ProductCreation,
        CTX,
    )
    assert (v.status, v.error["path"]) == ("rejected", "/unitPrice")


# --- properties -----------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
values = st.recursive(
    scalars,
    lambda s: st.lists(s, max_size=3) | st.dictionaries(st.text(max_size=8), s, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(
    [
        "purchaseId",
        "totalQuantity",
        "totalPrice",
        "products",
        "product",
        "productId",
        "name",
        "unitPrice",
        "quantity",
        "price",
        "searchText",
        "eventId",
        "formId",
        "payload",
        "availability",
        "source_type",
        "sourceType",
        "purchaseDate",
        "currency",
        "rating",
        "categories",
        "email",
        "cartId",
    ]
)


def shaped(depth: int = 2) -> st.SearchStrategy[Any]:
    if depth == 0:
        return values
    return st.dictionaries(fields, shaped(depth - 1) | values, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    etype=st.sampled_from([*m.EVENT_TYPES, "nope"]),
    body=shaped(),
    line=st.dictionaries(fields, values, max_size=6),
)
def test_every_verdict_uses_catalog_codes(
    etype: str, body: dict[str, Any], line: dict[str, Any]
) -> None:
    if "purchase" in etype and isinstance(body.get("products"), list):
        body["products"].append(line)
    ev = {"type": etype, **body, "purchase": body, "product": line}
    v = event(ev, index=1)
    assert v.status in ("accepted", "rejected")
    if v.status == "rejected":
        assert CATALOG[v.error["code"]].kind == "rejection"
        assert v.error["path"].startswith("/events/1")
        assert v.error["message"]
    else:
        assert v.error is None
        msgspec.json.encode(v.value[0], enc_hook=lambda o: str(o))  # storable
    for w in v.warnings:
        assert CATALOG[w["code"]].kind == "warning"
        assert w["path"].startswith("/events/1") and w["message"]
