"""Every JSON number, in every numeric field, gets a verdict, never a 5xx (product.md §2).

Over real HTTP on both backends: the number space (signs, `-0`, exponents of every size,
subnormals, 5,000-digit integers and fractions, NaN/Infinity literals, numeric text) is put
in each numeric field of each event type, of the cart, of entityInfo, of free-form payloads,
and of each REST write body (`POST /api/purchases/`, `PATCH /api/contacts/…`,
`PATCH /api/products/…`, `PATCH /api/store`). A number that cannot be read is judged where it
stands: the event rejected, or a warning, or a `422`, each naming its exact path."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import inspect as mi

from shopevents.errors import CATALOG
from shopevents.schema import models as m
from shopevents.schema.numbers import MAX_EXPONENT, MAX_INT_DIGITS, Unreadable, read_text
from tests.conftest import LiveServer, StoreInfo, ingest_path

# JSON number literals: (text, readable). Readable ones may still be out of a field's range.
LITERALS: list[tuple[str, bool]] = [
    ("0", True),
    ("-0", True),
    ("-0.0", True),
    ("0e0", True),
    ("1", True),
    ("-1", True),
    ("1.5", True),
    ("-1.5", True),
    ("3.0", True),
    ("1E+2", True),
    ("1e-7", True),
    ("4.9e-324", True),  # the smallest subnormal double
    ("2.2250738585072014e-308", True),
    ("1.7976931348623157e308", True),
    ("1e309", True),  # past a double, not past a Decimal
    ("-1e309", True),
    (f"1e{MAX_EXPONENT}", True),
    (f"1e-{MAX_EXPONENT}", True),
    (f"1e{MAX_EXPONENT + 1}", False),
    (f"1e-{MAX_EXPONENT + 1}", False),
    ("1e9999999999999999999", False),
    ("-1e9999999999999999999", False),
    ("1e-9999999999999999999", False),
    ("1E+99999999999999999999999999", False),
    ("9" * 20, True),
    ("-" + "9" * 20, True),
    ("18446744073709551616", True),  # 2**64
    ("9" * MAX_INT_DIGITS, True),
    ("9" * (MAX_INT_DIGITS + 1), False),
    ("9" * 5000, False),
    ("-" + "9" * 5000, False),
    ("0." + "1" * 5000, True),
    ("1." + "0" * 5000, True),
    ("0." + "0" * 4999 + "1", True),
    ("9" * 100 + "." + "9" * 100, True),
]
NOT_JSON = ["NaN", "Infinity", "-Infinity", "01", "+1", ".5", "1.", "1e", "--1", "0x10"]
# numeric text (the tag mode's form)
TEXTS = ['"1e9999999999999999999"', '"' + "9" * 5000 + '"', '"-0"', '" 12 "', '"1.5"', '"NaN"']


def unreadable(literal: str, path: tuple[Any, ...] = ()) -> bool:
    """Whether the literal is a number that cannot be read (text counts in numeric fields)."""
    if literal.startswith('"') and any(p in FREE for p in path):
        return False  # text in free-form data is text
    text = json.loads(literal) if literal.startswith('"') else literal
    return isinstance(read_text(text), Unreadable)


FREE = {"payload", "custom", "list"}
LINE: dict[str, Any] = {
    "productId": "SKU-1",
    "name": "Lamp",
    "productDetailUrl": "https://shop.example/p/1",
    "unitPrice": 10,
    "quantity": 1,
    "price": 10,
}
PRODUCT = {k: v for k, v in LINE.items() if k not in ("quantity", "price")}


def purchase() -> dict[str, Any]:
    return {
        "purchaseId": f"P-{uuid.uuid4().hex[:10]}",
        "totalQuantity": 1,
        "totalPrice": 10,
        "products": [dict(LINE)],
    }


def cart() -> dict[str, Any]:
    return {"cartId": "c-1", "totalQuantity": 1, "totalPrice": 10, "products": [dict(LINE)]}


@functools.cache
def numeric_fields(
    cls: type, prefix: tuple[Any, ...] = ()
) -> tuple[tuple[tuple[Any, ...], bool], ...]:
    """(path, required) of every numeric field of a model, lines and products included (read
    once per model: msgspec's type_info costs milliseconds)."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    out: list[tuple[tuple[Any, ...], bool]] = []
    for f in info.fields:
        t = f.type
        if isinstance(t, mi.Metadata):
            t = t.type
        if isinstance(t, mi.UnionType):
            t = next(x for x in t.types if not isinstance(x, mi.NoneType))
        if isinstance(t, mi.Metadata):
            t = t.type
        path = (*prefix, f.encode_name)
        if isinstance(t, mi.IntType) or (isinstance(t, mi.CustomType) and t.cls is m.Money):
            out.append((path, f.required))
        elif isinstance(t, mi.StructType):
            out += [(p, r and f.required) for p, r in numeric_fields(t.cls, path)]
        elif isinstance(t, mi.ListType) and isinstance(t.item_type, mi.StructType):
            lines = numeric_fields(t.item_type.cls, (*path, 0))
            # a bad line rejects its purchase or cart: lines are never dropped
            out += [(p, r and (f.required or f.encode_name == "products")) for p, r in lines]
    return tuple(out)


def put(obj: Any, path: tuple[Any, ...], marker: str) -> Any:
    cur = obj
    for seg in path[:-1]:
        cur = cur[seg]
    cur[path[-1]] = marker
    return obj


def pointer(path: tuple[Any, ...], base: str = "") -> str:
    return base + "".join(f"/{s}" for s in path)


def encode(obj: Any, literal: str) -> bytes:
    return json.dumps(obj).replace('"@NUM@"', literal).encode()


# Each event type with a numeric field, as (type, body without the number, path of the body).
def event_cases() -> list[tuple[dict[str, Any], tuple[Any, ...], bool]]:
    cases: list[tuple[dict[str, Any], tuple[Any, ...], bool]] = []
    for path, req in numeric_fields(m.Purchase):
        cases.append(({"type": "purchase", "purchase": purchase()}, ("purchase", *path), req))
    for name in ("product-visited", "product-searched"):
        for path, req in numeric_fields(m.Product):
            cases.append(({"type": name, "product": dict(PRODUCT)}, ("product", *path), req))
    for name, cls in (("custom", m.Custom), ("form-submitted", m.FormSubmitted)):
        base = {"type": name, "eventId": "e-1", "formId": "f-1", "payload": {"n": 1, "l": [1]}}
        cases.append((base, ("payload", "n"), False))
        cases.append((base, ("payload", "l", 0), False))
        assert not numeric_fields(cls)
    for name, cls in m.EVENT_TYPES.items():  # every event type with a numeric field is here
        if numeric_fields(cls):
            assert any(c[0]["type"] == name for c in cases), name
    return cases


def check_error_shape(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    body: dict[str, Any] = r.json()
    if r.status_code >= 400:
        assert {"status", "code", "message", "errors"} <= set(body), body
        assert body["status"] == r.status_code
        assert CATALOG[body["code"]].status == r.status_code, body
    return body


def verdict_at(res: dict[str, Any], ptr: str) -> bool:
    """Whether the result (an event's, the cart's, entityInfo's) names `ptr`."""
    if res["status"] == "rejected" and res.get("path") == ptr:
        assert CATALOG[res["code"]].kind == "rejection", res
        return True
    return any(w["path"] == ptr and CATALOG[w["code"]].kind == "warning" for w in res["warnings"])


def check_ingest(body: dict[str, Any], cases: list[Any], literal: str, base: str = "") -> None:
    for res in body["results"]:
        assert res["status"] in {"accepted", "duplicate", "conflict", "rejected"}, res
        if res["status"] == "rejected":
            assert res["path"].startswith(f"/events/{res['index']}"), res
            assert CATALOG[res["code"]].kind == "rejection", res
        for w in res["warnings"]:
            assert CATALOG[w["code"]].kind == "warning", w
    assert body["results"][-1]["status"] == "accepted"  # the plain page visit
    for i, (_, path, required) in enumerate(cases):
        if unreadable(literal, path):
            res = body["results"][i]
            ptr = pointer(path, f"/events/{i}")
            assert verdict_at(res, ptr), (literal[:40], ptr, res)
            if required:
                assert res["status"] == "rejected", res
                assert res["code"] in {"invalid_value", "negative_value"}, res


@pytest.fixture
def api(server: LiveServer, store: StoreInfo) -> Iterator[tuple[httpx.Client, StoreInfo]]:
    with httpx.Client(base_url=server.url, timeout=60, headers=store.auth) as client:
        yield client, store


ALL_LITERALS = [lit for lit, _ in LITERALS] + TEXTS


@pytest.mark.slow
def test_every_number_in_every_ingest_field(api: tuple[httpx.Client, StoreInfo]) -> None:
    http, store = api
    for literal in ALL_LITERALS + NOT_JSON:
        cases = event_cases()
        events = [put(json.loads(json.dumps(ev)), path, "@NUM@") for ev, path, _ in cases]
        events.append({"type": "page-visit"})
        r = http.post(ingest_path(store.id), content=encode({"events": events}, literal))
        body = check_error_shape(r)
        if literal in NOT_JSON:
            assert r.status_code == 400 and body["code"] == "invalid_json", body
            continue
        assert r.status_code == 200, r.text[:500]
        check_ingest(body, cases, literal)
        # the cart and entityInfo, one field at a time
        parts: list[tuple[str, dict[str, Any], tuple[Any, ...], bool]] = [
            ("cart", cart(), path, req) for path, req in numeric_fields(m.Cart)
        ]
        parts += [("entityInfo", {"primaryKey": "ana@example.com"}, ("_points",), False)]
        parts += [("entityInfo", {"primaryKey": "ana@example.com"}, ("custom",), False)]
        parts += [("entityInfo", {"list": [1, 2]}, ("list", 1), False)]
        for part, obj, path, required in parts:
            envelope = {part: put(obj, path, "@NUM@"), "events": [{"type": "page-visit"}]}
            r = http.post(ingest_path(store.id), content=encode(envelope, literal))
            body = check_error_shape(r)
            assert r.status_code == 200, r.text[:500]
            assert body["results"][0]["status"] == "accepted"
            res = body[part]
            assert res["status"] in {"accepted", "rejected"}, res
            if unreadable(literal, path):
                assert verdict_at(res, pointer(path, f"/{part}")), (literal[:40], path, res)
                assert res["status"] == ("rejected" if required else "accepted"), res


def check_rest(r: httpx.Response, literal: str, ptr: str) -> None:
    free = ptr.split("/")[1] in FREE or ptr in ("/l/1", "/name")  # text is text there
    body = check_error_shape(r)
    if literal in NOT_JSON:
        assert r.status_code == 400 and body["code"] == "invalid_json", body
        return
    assert r.status_code in {200, 201, 409, 422}, (r.status_code, r.text[:500])
    if r.status_code == 422:
        assert body["validationErrors"] and all(e["path"] for e in body["errors"]), body
        for e in body["errors"]:
            assert CATALOG[e["code"]].kind in ("rejection", "warning"), e
    if unreadable(literal, ("custom",) if free else ()):
        assert r.status_code == 422, (literal[:40], ptr, r.text[:500])
        assert ptr in [e["path"] for e in body["validationErrors"]], (literal[:40], ptr, body)


@pytest.mark.slow
def test_every_number_in_every_rest_field(api: tuple[httpx.Client, StoreInfo]) -> None:
    http, _ = api
    for literal in ALL_LITERALS + NOT_JSON:
        for path, _req in numeric_fields(m.PurchaseCreation):
            r = http.post(
                "/api/purchases/", content=encode(put(purchase(), path, "@NUM@"), literal)
            )
            check_rest(r, literal, pointer(path))
        for path, _req in numeric_fields(m.ProductCreation):
            r = http.patch(
                "/api/products/product-id/SKU-1",
                content=encode(put(dict(PRODUCT), path, "@NUM@"), literal),
            )
            check_rest(r, literal, pointer(path))
        for field in ("_points", "custom"):
            r = http.patch(
                "/api/contacts/ana@example.com", content=encode({field: "@NUM@"}, literal)
            )
            check_rest(r, literal, f"/{field}")
        r = http.patch(
            "/api/contacts/ana@example.com", content=encode({"l": [1, "@NUM@"]}, literal)
        )
        check_rest(r, literal, "/l/1")
        for field in ("abandonAfterSeconds", "name"):
            r = http.patch("/api/store", content=encode({field: "@NUM@"}, literal))
            check_rest(r, literal, f"/{field}")
            if literal not in NOT_JSON and r.status_code == 422:
                assert r.json()["validationErrors"][0]["path"] == f"/{field}"


# --- a random walk over the number space ---------------------------------------------------

digits = st.text("0123456789", min_size=1, max_size=6000)
number_literals = st.builds(
    lambda sign, whole, frac, exp: sign + str(int(whole[:1] or "0")) + whole[1:] + frac + exp,
    st.sampled_from(["", "-"]),
    digits,
    st.sampled_from([""]) | st.text("0123456789", min_size=1, max_size=6000).map(lambda d: "." + d),
    st.sampled_from([""])
    | st.builds(
        lambda e, s, n: e + s + str(n),
        st.sampled_from(["e", "E"]),
        st.sampled_from(["", "+", "-"]),
        st.integers(0, 10**25) | st.integers(MAX_EXPONENT - 3, MAX_EXPONENT + 3),
    ),
)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(literal=number_literals, case=st.integers(0, 10**6), rest=st.booleans())
def test_random_numbers_never_5xx(
    api: tuple[httpx.Client, StoreInfo], literal: str, case: int, rest: bool
) -> None:
    http, store = api
    if literal.lstrip("-").startswith("0") and literal.lstrip("-")[1:2].isdigit():
        literal = literal.replace("0", "1", 1)  # a leading zero is not JSON
    if rest:
        fields = numeric_fields(m.PurchaseCreation)
        path, _ = fields[case % len(fields)]
        r = http.post("/api/purchases/", content=encode(put(purchase(), path, "@NUM@"), literal))
        check_rest(r, literal, pointer(path))
        return
    cases = event_cases()
    ev, path, required = cases[case % len(cases)]
    events = [put(json.loads(json.dumps(ev)), path, "@NUM@"), {"type": "page-visit"}]
    r = http.post(ingest_path(store.id), content=encode({"events": events}, literal))
    body = check_error_shape(r)
    assert r.status_code in (200, 413), r.text[:300]  # 413: past 512 KB
    if r.status_code == 200:
        check_ingest(body, [(ev, path, required)], literal)


def test_numbers_are_kept_exact(api: tuple[httpx.Client, StoreInfo]) -> None:
    """A readable number in a custom payload is stored as sent, however long."""
    http, store = api
    long_fraction = "0." + "1" * 5000
    raw = (
        '{"events":[{"type":"custom","eventId":"e","payload":{"a":'
        + long_fraction
        + ',"b":-0.0,"c":1e400}}]}'
    )
    r = http.post(ingest_path(store.id), content=raw.encode())
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted", r.text
    assert r.json()["results"][0]["warnings"] == []
