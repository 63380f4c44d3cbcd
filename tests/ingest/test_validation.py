"""The validation rules of product.md §3, table-driven, over real HTTP on both backends.

Every case posts one request and checks the per-event verdict (status, code, JSON-pointer
path, message, warnings) and what storage holds: an accepted event is in `events` with its
warnings; a rejected one is in `quarantine`, raw as sent, with its errors.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shopevents.clock import SystemClock
from shopevents.config import Settings, WorkerSettings
from shopevents.jsoncodec import loads
from shopevents.storage.database import Database
from tests.conftest import (
    CLUSTER_MODES,
    EXAMPLES,
    Collectors,
    LiveServer,
    StoreInfo,
    create_pg_database,
    drop_pg_database,
    ingest_path,
    live_server,
    make_store,
    pg_url_for,
    start_rig,
)

pytestmark = pytest.mark.cluster

SHOP = "https://shop.example"
DOMAINS = ["shop.example"]
DROP = object()


# --- one live server per backend for the whole module ----------------------------------


@dataclass
class Live:
    url: str
    db: Database
    server: LiveServer | Collectors
    http: httpx.Client

    def store(self, **kw: Any) -> StoreInfo:
        kw.setdefault("domains", DOMAINS)
        return make_store(self.db, f"store-{uuid.uuid4().hex[:6]}", **kw)

    def post(self, store: StoreInfo, body: Any, **kw: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "text/plain", **kw.pop("headers", {})}
        return self.http.post(ingest_path(store.id), content=content, headers=headers, **kw)

    def rows(self, sql: str, *params: Any) -> list[Any]:
        with self.db.reader() as c:
            return c.all(sql, params)


@pytest.fixture(scope="module", params=CLUSTER_MODES)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('validation') / 'v.db'}"
    else:
        name = create_pg_database()
        url = pg_url_for(name)
    db = Database(url)
    db.migrate()
    settings = Settings(worker=WorkerSettings(enabled=False))
    rig = start_rig(request, settings, db) if request.param == "cluster" else None
    server = live_server(settings, db, SystemClock(), rig)
    client = server.client(timeout=30)
    try:
        yield Live(url, db, server, client)
    finally:
        client.close()
        server.stop()
        if rig is not None:
            rig.stop()
        if name:
            drop_pg_database(name)


# --- builders -----------------------------------------------------------------------------


def _with(base: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in kw.items():
        if v is DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def product(**kw: Any) -> dict[str, Any]:
    base = {
        "productId": "SKU-42",
        "name": "Desk lamp",
        "productDetailUrl": f"{SHOP}/p/sku-42",
        "unitPrice": 24.9,
    }
    return _with(base, kw)


def line(**kw: Any) -> dict[str, Any]:
    return _with({**product(), "quantity": 3, "price": 74.7}, kw)


def purchase(**kw: Any) -> dict[str, Any]:
    base = {"purchaseId": "ORD-1", "totalQuantity": 3, "totalPrice": 74.7, "products": [line()]}
    return {"type": "purchase", "purchase": _with(base, kw)}


def cart(**kw: Any) -> dict[str, Any]:
    return _with(
        {"cartId": "c-1", "totalQuantity": 3, "totalPrice": 74.7, "products": [line()]}, kw
    )


def visited(**kw: Any) -> dict[str, Any]:
    return {"type": "product-visited", "product": product(**kw)}


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the table ----------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    event: Any
    status: str = "accepted"
    code: str | None = None
    path: str | None = None
    warnings: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    says: tuple[str, ...] = ()  # substrings of the message (rejection) or of every warning


P = "/events/0/purchase"
L = f"{P}/products/0"
V = "/events/0/product"

CASES = [
    # Rule 1: reject only what cannot be used
    Case("valid purchase", purchase()),
    Case("valid page-visit", {"type": "page-visit"}),
    Case(
        "unknown type",
        {"type": "page-view"},
        "rejected",
        "unknown_type",
        "/events/0/type",
        says=('received "page-view"', "page-visit, product-visited"),
    ),
    Case(
        "missing type",
        {"purchase": {}},
        "rejected",
        "unknown_type",
        "/events/0/type",
        says=("received null",),
    ),
    Case("type not text", {"type": 7}, "rejected", "unknown_type", "/events/0/type"),
    Case(
        "event not an object",
        ["page-visit"],
        "rejected",
        "not_an_object",
        "/events/0",
        says=('received ["page-visit"]',),
    ),
    Case("purchase: purchase missing", {"type": "purchase"}, "rejected", "missing_field", P),
    Case(
        "purchase: not an object",
        {"type": "purchase", "purchase": "ORD-1"},
        "rejected",
        "not_an_object",
        P,
        says=("Expected `object`", 'received "ORD-1"'),
    ),
    Case(
        "purchase: purchaseId missing",
        purchase(purchaseId=DROP),
        "rejected",
        "missing_field",
        f"{P}/purchaseId",
        says=("purchaseId",),
    ),
    Case(
        "purchase: totalQuantity missing",
        purchase(totalQuantity=DROP),
        "rejected",
        "missing_field",
        f"{P}/totalQuantity",
    ),
    Case(
        "purchase: totalPrice missing",
        purchase(totalPrice=DROP),
        "rejected",
        "missing_field",
        f"{P}/totalPrice",
    ),
    Case(
        "purchase: products missing",
        purchase(products=DROP),
        "rejected",
        "missing_field",
        f"{P}/products",
    ),
    Case(
        "purchase: totalPrice unreadable",
        purchase(totalPrice="74,70"),
        "rejected",
        "invalid_type",
        f"{P}/totalPrice",
        says=("Expected `number`", 'received "74,70"'),
    ),
    Case(
        "purchase: totalPrice a boolean",
        purchase(totalPrice=True),
        "rejected",
        "invalid_type",
        f"{P}/totalPrice",
        says=("received true",),
    ),
    Case(
        "purchase: products not a list",
        purchase(products={"0": line()}),
        "rejected",
        "invalid_type",
        f"{P}/products",
        says=("Expected `array`",),
    ),
    Case(
        "purchase: purchaseId an object",
        purchase(purchaseId={"id": 1}),
        "rejected",
        "invalid_type",
        f"{P}/purchaseId",
        says=("Expected `str`",),
    ),
    Case(
        "product: productId missing",
        visited(productId=DROP),
        "rejected",
        "missing_field",
        f"{V}/productId",
    ),
    Case("product: name missing", visited(name=DROP), "rejected", "missing_field", f"{V}/name"),
    Case(
        "product: productDetailUrl missing",
        visited(productDetailUrl=DROP),
        "rejected",
        "missing_field",
        f"{V}/productDetailUrl",
    ),
    Case(
        "product: unitPrice missing",
        visited(unitPrice=DROP),
        "rejected",
        "missing_field",
        f"{V}/unitPrice",
    ),
    Case(
        "product: unitPrice unreadable",
        visited(unitPrice="free"),
        "rejected",
        "invalid_type",
        f"{V}/unitPrice",
        says=('received "free"',),
    ),
    Case(
        "product-visited: product missing",
        {"type": "product-visited"},
        "rejected",
        "missing_field",
        V,
    ),
    Case(
        "product-searched: product a list",
        {"type": "product-searched", "product": [product()]},
        "rejected",
        "not_an_object",
        V,
    ),
    Case(
        "line: quantity missing",
        purchase(products=[line(quantity=DROP)]),
        "rejected",
        "missing_field",
        f"{L}/quantity",
    ),
    Case(
        "line: price missing",
        purchase(products=[line(price=DROP)]),
        "rejected",
        "missing_field",
        f"{L}/price",
    ),
    Case(
        "line: productId missing",
        purchase(products=[line(productId=DROP)]),
        "rejected",
        "missing_field",
        f"{L}/productId",
    ),
    Case(
        "line: second line bad",
        purchase(products=[line(), line(price="x")]),
        "rejected",
        "invalid_type",
        f"{P}/products/1/price",
    ),
    Case(
        "product-not-found: productId missing",
        {"type": "product-not-found"},
        "rejected",
        "missing_field",
        "/events/0/productId",
    ),
    Case(
        "form-submitted: formId missing",
        {"type": "form-submitted", "payload": {}},
        "rejected",
        "missing_field",
        "/events/0/formId",
    ),
    # Rule 2: a malformed optional field is dropped, with a warning
    Case(
        "source_type webshop",
        purchase(source_type="webshop"),
        warnings={"invalid_enum": f"{P}/source_type"},
        says=(
            '"marketplace"',
            '"digital-store"',
            '"point-of-sale"',
            '"third-party"',
            '"other"',
            'received "webshop"',
            "dropped",
        ),
    ),
    Case(
        "purchaseDate unparsable",
        purchase(purchaseDate="26/06/2020 12:52"),
        warnings={"invalid_date": f"{P}/purchaseDate"},
        says=('received "26/06/2020 12:52"', "received time is used"),
    ),
    Case(
        "purchaseDate impossible day",
        purchase(purchaseDate="2024-02-30T10:00:00Z"),
        warnings={"invalid_date": f"{P}/purchaseDate"},
    ),
    Case(
        "purchaseDate out of range after offset",
        purchase(purchaseDate="9999-12-31T23:59:59-23:59"),
        warnings={"invalid_date": f"{P}/purchaseDate"},
    ),
    Case(
        "availability unknown",
        visited(availability="maybe"),
        warnings={"invalid_enum": f"{V}/availability"},
        says=('"instock"', '"outofstock"', '"unverified"', '"discontinued"', 'received "maybe"'),
    ),
    Case(
        "rating not a number",
        visited(rating="good"),
        warnings={"invalid_field": f"{V}/rating"},
        says=('received "good"', "dropped"),
    ),
    Case(
        "rating above 5",
        visited(rating=7),
        warnings={"invalid_field": f"{V}/rating"},
        says=("0 to 5",),
    ),
    Case(
        "discountedPercentage above 100",
        visited(discountedPercentage=120),
        warnings={"invalid_field": f"{V}/discountedPercentage"},
    ),
    Case(
        "categories of numbers",
        visited(categories=[1, 2]),
        warnings={"invalid_field": f"{V}/categories"},
    ),
    Case(
        "publishedAt unparsable",
        visited(publishedAt="last week"),
        warnings={"invalid_date": f"{V}/publishedAt"},
    ),
    Case(
        "paymentMethod an object",
        purchase(paymentMethod={"card": True}),
        warnings={"invalid_field": f"{P}/paymentMethod"},
    ),
    Case(
        "optional amount negative",
        visited(unitPriceOriginal=-2),
        warnings={"invalid_field": f"{V}/unitPriceOriginal"},
        says=("received -2",),
    ),
    Case(
        "optional count negative",
        visited(reviewCount=-3),
        warnings={"invalid_field": f"{V}/reviewCount"},
    ),
    Case(
        "isBlacklisted unreadable",
        visited(isBlacklisted="maybe"),
        warnings={"invalid_field": f"{V}/isBlacklisted"},
    ),
    Case(
        "custom payload not an object",
        {"type": "custom", "eventId": "e1", "payload": [1]},
        warnings={"invalid_field": "/events/0/payload"},
    ),
    Case(
        "newsletter email not text",
        {"type": "newsletter-subscribe", "email": True},
        warnings={"invalid_field": "/events/0/email"},
    ),
    # Rule 3: nothing is silently changed: every coercion is a warning
    Case(
        "totalPrice as text",
        purchase(totalPrice="74.70"),
        warnings={"coerced_number": f"{P}/totalPrice"},
        says=('"74.70"', "74.70"),
    ),
    Case(
        "totalQuantity as text",
        purchase(totalQuantity="3"),
        warnings={"coerced_number": f"{P}/totalQuantity"},
    ),
    Case(
        "totalQuantity as text 3.0",
        purchase(totalQuantity="3.0"),
        warnings={"coerced_number": f"{P}/totalQuantity"},
    ),
    Case(
        "totalQuantity 3.0",
        purchase(totalQuantity=3.0),
        warnings={"coerced_number": f"{P}/totalQuantity"},
    ),
    Case(
        "line numbers as text (tag mode)",
        purchase(products=[line(unitPrice="24.9", quantity="3", price="74.7")]),
        warnings=[("coerced_number", f"{L}/{k}") for k in ("unitPrice", "quantity", "price")],
    ),
    Case(
        "rating and counts as text",
        visited(rating="4.5", reviewCount="12"),
        warnings=[("coerced_number", f"{V}/rating"), ("coerced_number", f"{V}/reviewCount")],
    ),
    Case(
        "availability InStock",
        visited(availability="InStock"),
        warnings={"normalized_value": f"{V}/availability"},
        says=('"InStock"', '"instock"'),
    ),
    Case(
        "availability IN_STOCK",
        visited(availability="IN_STOCK"),
        warnings={"normalized_value": f"{V}/availability"},
    ),
    Case(
        "availability OutOfStock",
        visited(availability="OutOfStock"),
        warnings={"normalized_value": f"{V}/availability"},
    ),
    Case("availability instock", visited(availability="instock")),
    Case(
        "sourceType camelCase",
        purchase(sourceType="digital-store"),
        warnings={"renamed_field": f"{P}/sourceType"},
        says=("`sourceType`", "`source_type`"),
    ),
    Case(
        "sourceName camelCase",
        purchase(sourceName="Main shop"),
        warnings={"renamed_field": f"{P}/sourceName"},
    ),
    Case(
        "sourceType camelCase and invalid",
        purchase(sourceType="web"),
        warnings={"renamed_field": f"{P}/sourceType", "invalid_enum": f"{P}/source_type"},
    ),
    Case(
        "purchase_id snake_case",
        purchase(purchaseId=DROP, purchase_id="ORD-1"),
        warnings={"renamed_field": f"{P}/purchase_id"},
    ),
    Case(
        "productId as a number",
        visited(productId=12345),
        warnings={"coerced_text": f"{V}/productId"},
        says=('"12345"',),
    ),
    Case(
        "categories as one text",
        visited(categories="/Home/Lighting"),
        warnings={"coerced_text": f"{V}/categories"},
    ),
    Case(
        "isBlacklisted as text",
        visited(isBlacklisted="true"),
        warnings={"coerced_boolean": f"{V}/isBlacklisted"},
    ),
    Case(
        "currency lower case",
        purchase(currency="usd"),
        warnings={"normalized_value": f"{P}/currency"},
    ),
    Case(
        "NUL in a text",
        visited(name="Desk\u0000lamp"),
        warnings={"normalized_value": f"{V}/name"},
        says=("U+0000",),
    ),
    Case(
        "more than 6 decimals",
        purchase(totalPrice=74.7000001),
        warnings={"rounded_amount": f"{P}/totalPrice"},
        says=("74.700000",),
    ),
    # Rule 4: lenient ISO 8601 dates
    Case("date with space and millis", purchase(purchaseDate="2017-09-29 14:12:37.430Z")),
    Case("date with +0000", purchase(purchaseDate="1980-05-01T00:00:00+0000")),
    Case("date with +05:30", purchase(purchaseDate="2024-09-13T16:19:31+05:30")),
    Case("date without offset", purchase(purchaseDate="2024-09-13T10:49:31")),
    # Rule 5: currency extension
    Case("currency valid", purchase(currency="USD")),
    Case(
        "currency invalid",
        purchase(currency="DOLLARS"),
        warnings={"invalid_currency": f"{P}/currency"},
        says=('received "DOLLARS"', "store's currency EUR"),
    ),
    # Rule 6: consistency warnings
    Case(
        "totalQuantity vs lines",
        purchase(totalQuantity=5),
        warnings={"quantity_mismatch": f"{P}/totalQuantity"},
        says=("5", "3"),
    ),
    Case(
        "line price vs quantity x unitPrice",
        purchase(products=[line(price=70)], totalPrice=70),
        warnings={"price_mismatch": f"{L}/price"},
        says=("70", "74.7"),
    ),
    Case("line price off by exactly a cent", purchase(products=[line(price=74.69)])),
    Case(
        "line price off by two cents",
        purchase(products=[line(price=74.68)]),
        warnings={"price_mismatch": f"{L}/price"},
    ),
    Case(
        "empty products",
        purchase(products=[], totalQuantity=0, totalPrice=0),
        warnings={"empty_products": f"{P}/products"},
    ),
    Case(
        "purchaseDate 2 days ahead",
        purchase(purchaseDate=in_days(2)),
        warnings={"future_date": f"{P}/purchaseDate"},
    ),
    Case("purchaseDate 12 hours ahead", purchase(purchaseDate=in_days(0.5))),
    Case(
        "product URL outside domains",
        visited(productDetailUrl="https://other.example/p/1"),
        warnings={"url_not_authorized": f"{V}/productDetailUrl"},
        says=("other.example",),
    ),
    Case(
        "line URL outside domains",
        purchase(products=[line(productDetailUrl="http://evil.test/")]),
        warnings={"url_not_authorized": f"{L}/productDetailUrl"},
    ),
    Case("product URL on a subdomain", visited(productDetailUrl="https://www.shop.example/p/1")),
    # Rule 7: ranges
    Case(
        "negative totalPrice",
        purchase(totalPrice=-74.7),
        "rejected",
        "negative_value",
        f"{P}/totalPrice",
        says=("non-negative", "received -74.7"),
    ),
    Case(
        "negative totalQuantity",
        purchase(totalQuantity=-3),
        "rejected",
        "negative_value",
        f"{P}/totalQuantity",
    ),
    Case(
        "negative line quantity",
        purchase(products=[line(quantity=-1)]),
        "rejected",
        "negative_value",
        f"{L}/quantity",
    ),
    Case(
        "negative line price",
        purchase(products=[line(price=-74.7)]),
        "rejected",
        "negative_value",
        f"{L}/price",
    ),
    Case(
        "negative unitPrice", visited(unitPrice=-1), "rejected", "negative_value", f"{V}/unitPrice"
    ),
    Case(
        "negative amount as text",
        purchase(totalPrice="-5"),
        "rejected",
        "negative_value",
        f"{P}/totalPrice",
        warnings={"coerced_number": f"{P}/totalPrice"},
    ),
    Case(
        "1.5 units (totalQuantity)",
        purchase(totalQuantity=1.5),
        "rejected",
        "not_whole_number",
        f"{P}/totalQuantity",
        says=("whole number", "received 1.5"),
    ),
    Case(
        "1.5 units (line)",
        purchase(products=[line(quantity=1.5)]),
        "rejected",
        "not_whole_number",
        f"{L}/quantity",
    ),
    Case(
        "1.5 units as text",
        purchase(totalQuantity="1.5"),
        "rejected",
        "not_whole_number",
        f"{P}/totalQuantity",
    ),
    Case(
        "quantity beyond any stock",
        purchase(totalQuantity=10**30),
        "rejected",
        "invalid_value",
        f"{P}/totalQuantity",
    ),
    Case(
        "amount beyond 1e12",
        purchase(totalPrice=1e15),
        "rejected",
        "invalid_value",
        f"{P}/totalPrice",
    ),
    Case(
        "empty searchText",
        {"type": "search", "searchText": ""},
        "rejected",
        "empty_value",
        "/events/0/searchText",
        says=("non-empty", 'received ""'),
    ),
    Case(
        "blank searchText",
        {"type": "search", "searchText": "   "},
        "rejected",
        "empty_value",
        "/events/0/searchText",
    ),
    Case(
        "missing searchText",
        {"type": "search"},
        "rejected",
        "missing_field",
        "/events/0/searchText",
    ),
    Case(
        "custom without eventId",
        {"type": "custom", "payload": {"a": 1}},
        "rejected",
        "missing_field",
        "/events/0/eventId",
    ),
    Case(
        "custom with empty eventId",
        {"type": "custom", "eventId": ""},
        "rejected",
        "empty_value",
        "/events/0/eventId",
    ),
    Case("empty purchaseId", purchase(purchaseId=""), "rejected", "empty_value", f"{P}/purchaseId"),
    Case(
        "empty productId (product-not-found)",
        {"type": "product-not-found", "productId": ""},
        "rejected",
        "empty_value",
        "/events/0/productId",
    ),
]


def _event_bytes(event: Any) -> bytes:
    return json.dumps(event).encode()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(live: Live, case: Case) -> None:
    store = live.store()
    r = live.post(store, {"events": [case.event]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 1
    got = res[0]
    assert got["index"] == 0
    assert got["status"] == case.status, got
    expected = case.warnings.items() if isinstance(case.warnings, dict) else case.warnings
    warnings = sorted((w["code"], w["path"]) for w in got["warnings"])
    assert warnings == sorted(expected), got["warnings"]
    for w in got["warnings"]:
        assert set(w) == {"code", "path", "message"} and w["message"], w
    if case.status == "rejected":
        assert (got["code"], got["path"]) == (case.code, case.path), got
        text = got["message"]
    else:
        assert "code" not in got
        text = " ".join(w["message"] for w in got["warnings"])
    for s in case.says:
        assert s in text, (s, text)

    events = live.rows("SELECT status, warnings, type FROM events WHERE store_id = ?", store.id)
    quarantined = live.rows(
        "SELECT idx, type, code, raw, errors FROM quarantine WHERE store_id = ?", store.id
    )
    if case.status == "rejected":
        assert events == []
        assert len(quarantined) == 1
        idx, _type, code, raw, errors = quarantined[0]
        assert (idx, code) == (0, case.code)
        assert bytes(raw) == _event_bytes(case.event)  # raw, exactly as sent
        stored = loads(errors)
        assert stored["error"] == {
            "code": got["code"],
            "path": got["path"],
            "message": got["message"],
        }
    else:
        assert quarantined == []
        assert len(events) == 1
        assert events[0][0] == "accepted"
        stored_w = loads(events[0][1]) if events[0][1] else []
        assert stored_w == got["warnings"]


# --- rules that need more than one verdict --------------------------------------------------


def test_one_bad_event_costs_only_itself(live: Live) -> None:
    store = live.store()
    body = {
        "events": [
            {"type": "page-visit"},
            purchase(totalPrice="x"),
            {"type": "search", "searchText": "lamp"},
        ]
    }
    out = live.post(store, body).json()
    assert [x["status"] for x in out["results"]] == ["accepted", "rejected", "accepted"]
    assert out["results"][1]["path"] == "/events/1/purchase/totalPrice"
    assert live.rows("SELECT idx FROM quarantine WHERE store_id = ?", store.id) == [(1,)]
    assert sorted(live.rows("SELECT idx FROM events WHERE store_id = ?", store.id)) == [(0,), (2,)]


def test_unparsable_purchase_date_uses_received_time(live: Live) -> None:
    store = live.store()
    before = int(datetime.now(UTC).timestamp() * 1_000_000)
    live.post(store, {"events": [purchase(purchaseDate="yesterday")]})
    ((purchased_at, received_at, offset),) = live.rows(
        "SELECT purchased_at, received_at, date_offset FROM purchases WHERE store_id = ?", store.id
    )
    assert purchased_at == received_at >= before
    assert offset is None


@pytest.mark.parametrize(
    ("sent", "utc", "offset"),
    [
        ("2017-09-29 14:12:37.430Z", "2017-09-29T14:12:37.430000+00:00", 0),
        ("1980-05-01T00:00:00+0000", "1980-05-01T00:00:00+00:00", 0),
        ("2024-09-13T12:49:31+02:00", "2024-09-13T10:49:31+00:00", 120),
        ("2024-09-13T05:49:31-0500", "2024-09-13T10:49:31+00:00", -300),
        ("2024-09-13T16:19:31.5+05:30", "2024-09-13T10:49:31.500000+00:00", 330),
        ("2024-09-13T10:49:31", "2024-09-13T10:49:31+00:00", None),
    ],
)
def test_dates_stored_in_utc_with_the_offset_kept(
    live: Live, sent: str, utc: str, offset: int | None
) -> None:
    store = live.store()
    out = live.post(store, {"events": [purchase(purchaseDate=sent)]}).json()
    assert out["results"][0]["warnings"] == []
    ((purchased_at, date_offset),) = live.rows(
        "SELECT purchased_at, date_offset FROM purchases WHERE store_id = ?", store.id
    )
    assert datetime.fromtimestamp(purchased_at / 1e6, UTC).isoformat() == utc
    assert date_offset == offset
    got = live.http.get("/api/purchases/purchase-id/ORD-1", headers=store.auth).json()
    assert got["purchaseDateAsSent"] == sent


def test_money_is_exact_in_the_ledger(live: Live) -> None:
    """300 purchases of 0.1 sum to exactly 30 (binary floats give 30.000000000000135)."""
    store = live.store()
    lines = [line(unitPrice=0.1, quantity=1, price=0.1)]
    events = [
        purchase(purchaseId=f"P-{i}", totalQuantity=1, totalPrice=0.1, products=lines)
        for i in range(300)
    ]
    body = {"events": events, "entityInfo": {"primaryKey": "exact@example.com"}}
    assert sum(0.1 for _ in range(300)) != 30  # the trap this avoids
    out = live.post(store, body).json()
    assert {x["status"] for x in out["results"]} == {"accepted"}
    ((total, count),) = live.rows(
        "SELECT SUM(total_price), COUNT(*) FROM purchases WHERE store_id = ?", store.id
    )
    assert (int(total), int(count)) == (30_000_000, 300)  # millionths: exactly 30
    contact = live.http.get("/api/contacts/exact@example.com", headers=store.auth).json()
    assert Decimal(str(contact["_totalPurchasesAmount"])) == Decimal(30)
    assert contact["_totalPurchases"] == 300
    assert Decimal(str(contact["_averagePurchasesAmount"])) == Decimal("0.1")


def test_amounts_keep_their_decimals(live: Live) -> None:
    store = live.store()
    body = {
        "events": [
            purchase(totalPrice=51.88, products=[line(unitPrice=17.29, quantity=3, price=51.87)])
        ]
    }
    live.post(store, body)
    assert live.rows("SELECT total_price FROM purchases WHERE store_id = ?", store.id) == [
        (51_880_000,)
    ]
    assert live.rows("SELECT price FROM purchase_lines WHERE store_id = ?", store.id) == [
        (51_870_000,)
    ]
    got = live.http.get("/api/purchases/purchase-id/ORD-1", headers=store.auth).json()
    assert str(got["totalPrice"]) == "51.88"


def test_currency_extension(live: Live) -> None:
    store = live.store(currency="GBP")
    events = [
        purchase(purchaseId="A"),
        purchase(purchaseId="B", currency="USD"),
        purchase(purchaseId="C", currency="usd"),
        purchase(purchaseId="D", currency="XYZ1"),
    ]
    out = live.post(store, {"events": events}).json()
    assert [x["status"] for x in out["results"]] == ["accepted"] * 4
    assert out["results"][3]["warnings"][0]["code"] == "invalid_currency"
    assert "GBP" in out["results"][3]["warnings"][0]["message"]
    rows = dict(
        live.rows("SELECT purchase_id, currency FROM purchases WHERE store_id = ?", store.id)
    )
    assert rows == {"A": "GBP", "B": "USD", "C": "USD", "D": "GBP"}


def test_store_without_domains_accepts_any_product_url(live: Live) -> None:
    store = live.store(domains=[])
    out = live.post(store, {"events": [visited(productDetailUrl="https://anything.test/p")]}).json()
    assert out["results"][0]["warnings"] == []


def test_cart_verdicts(live: Live) -> None:
    store = live.store()
    ok = live.post(store, {"cart": cart(CartRecoveryUrl="https://shop.example/r/1")}).json()["cart"]
    assert ok["status"] == "accepted"
    assert [(w["code"], w["path"]) for w in ok["warnings"]] == [
        ("renamed_field", "/cart/CartRecoveryUrl")
    ]
    bad = live.post(store, {"cart": cart(cartId=DROP)}).json()["cart"]
    assert (bad["status"], bad["code"], bad["path"]) == (
        "rejected",
        "missing_field",
        "/cart/cartId",
    )
    neg = live.post(store, {"cart": cart(products=[line(quantity=-2)])}).json()["cart"]
    assert (neg["code"], neg["path"]) == ("negative_value", "/cart/products/0/quantity")
    mism = live.post(store, {"cart": cart(cartId="c-2", totalQuantity=4)}).json()["cart"]
    assert [w["code"] for w in mism["warnings"]] == ["quantity_mismatch"]
    q = live.rows("SELECT type, code, raw FROM quarantine WHERE store_id = ? ORDER BY id", store.id)
    assert [(t, c) for t, c, _ in q] == [("cart", "missing_field"), ("cart", "negative_value")]
    assert json.loads(bytes(q[0][2])) == cart(cartId=DROP)


def test_entity_info_verdicts(live: Live) -> None:
    store = live.store()
    info = {
        "primaryKey": " Ana.Garcia@Example.com ",
        "_newsletterSubscriptionStatus": "SUBSCRIBED",
        "_emailStatus": "gone",
        "_birthdate": "1980-05-01T00:00:00+0000",
        "_points": "120",
        "loyalty_tier": "gold",
    }
    out = live.post(store, {"entityInfo": info}).json()["entityInfo"]
    assert out["status"] == "accepted"
    assert {w["code"]: w["path"] for w in out["warnings"]} == {
        "normalized_value": "/entityInfo/_newsletterSubscriptionStatus",
        "invalid_enum": "/entityInfo/_emailStatus",
        "coerced_number": "/entityInfo/_points",
    }
    contact = live.http.get("/api/contacts/ana.garcia@example.com", headers=store.auth).json()
    assert contact["_newsletterSubscriptionStatus"] == "subscribed"
    assert contact["_points"] == 120
    assert contact["loyalty_tier"] == "gold"
    assert "_emailStatus" not in contact
    bad = live.post(store, {"entityInfo": {"primaryKey": "not-an-email"}}).json()
    assert bad["entityInfo"]["warnings"][0]["code"] == "invalid_email"
    bad = live.post(store, {"entityInfo": {"_birthdate": "01/05/1980"}}).json()
    assert bad["entityInfo"]["warnings"][0]["code"] == "invalid_date"


# --- limits (rule 8) ------------------------------------------------------------------------


def test_event_over_32_kb_is_too_large(live: Live) -> None:
    store = live.store()
    big = {"type": "custom", "eventId": "e1", "payload": {"blob": "x" * (32 * 1024)}}
    out = live.post(store, {"events": [{"type": "page-visit"}, big]}).json()
    assert [x["status"] for x in out["results"]] == ["accepted", "rejected"]
    r = out["results"][1]
    assert (r["code"], r["path"], r["type"]) == ("too_large", "/events/1", "custom")
    assert "32768" in r["message"]
    ((raw,),) = live.rows("SELECT raw FROM quarantine WHERE store_id = ?", store.id)
    assert bytes(raw) == _event_bytes(big)


def test_event_just_under_32_kb_is_accepted(live: Live) -> None:
    store = live.store()
    ev = {"type": "custom", "eventId": "e1", "payload": {"blob": ""}}
    ev["payload"]["blob"] = "x" * (32 * 1024 - len(_event_bytes(ev)))
    assert len(_event_bytes(ev)) == 32 * 1024
    out = live.post(store, {"events": [ev]}).json()
    assert out["results"][0]["status"] == "accepted"


def test_more_than_500_events_is_413(live: Live) -> None:
    store = live.store()
    r = live.post(store, {"events": [{"type": "page-visit"}] * 501})
    assert r.status_code == 413
    body = r.json()
    assert body["code"] == "too_many_events" and body["status"] == 413
    assert "501" in body["message"] and "500" in body["message"]
    assert live.rows("SELECT COUNT(*) FROM requests WHERE store_id = ?", store.id) == [(0,)]
    ok = live.post(store, {"events": [{"type": "page-visit"}] * 500})
    assert ok.status_code == 200 and len(ok.json()["results"]) == 500


def test_gzip_body_is_read(live: Live) -> None:
    store = live.store()
    body = gzip.compress(json.dumps({"events": [purchase()]}).encode())
    r = live.post(store, body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "accepted"


# --- every event type and model: the documented examples -----------------------------------

EXAMPLE_DIR = EXAMPLES


def envelope_for(kind: str, name: str, obj: Any) -> dict[str, Any]:
    """How an example of each model travels in an ingest request."""
    if kind == "events":
        return {"events": [obj]}
    if name == "entityInfo":
        return {"entityInfo": obj}
    if name == "cart":
        return {"cart": obj}
    if name == "product":
        return {"events": [{"type": "product-visited", "product": obj}]}
    if name == "basket-line":
        return {
            "cart": {"cartId": "c-1", "totalQuantity": 3, "totalPrice": 74.7, "products": [obj]}
        }
    raise KeyError(name)


def part_of(kind: str, name: str, response: dict[str, Any]) -> dict[str, Any]:
    if kind == "models" and name in ("cart", "basket-line"):
        return response["cart"]
    if kind == "models" and name == "entityInfo":
        return response["entityInfo"]
    return response["results"][0]


# (kind, name) -> what the invalid example gets: (status, code, path)
INVALID = {
    ("events", "page-visit"): ("rejected", "unknown_type", "/events/0/type"),
    ("events", "product-visited"): (
        "rejected",
        "missing_field",
        "/events/0/product/productDetailUrl",
    ),
    ("events", "product-searched"): ("rejected", "negative_value", "/events/0/product/unitPrice"),
    ("events", "product-not-found"): ("rejected", "empty_value", "/events/0/productId"),
    ("events", "search"): ("rejected", "empty_value", "/events/0/searchText"),
    ("events", "login"): ("accepted", "invalid_field", "/events/0/email"),
    ("events", "register"): ("accepted", "invalid_field", "/events/0/email"),
    ("events", "newsletter-subscribe"): ("accepted", "invalid_field", "/events/0/email"),
    ("events", "purchase"): ("rejected", "invalid_type", "/events/0/purchase/totalPrice"),
    ("events", "custom"): ("rejected", "missing_field", "/events/0/eventId"),
    ("events", "form-submitted"): ("rejected", "missing_field", "/events/0/formId"),
    ("events", "modal-opened"): ("rejected", "not_an_object", "/events/0/modalOpened"),
    ("events", "modal-closed"): ("rejected", "missing_field", "/events/0/modalClosed"),
    ("events", "web-content-opened"): ("accepted", "invalid_enum", "/events/0/webContentTypeId"),
    ("models", "entityInfo"): (
        "accepted",
        "invalid_enum",
        "/entityInfo/_newsletterSubscriptionStatus",
    ),
    ("models", "cart"): ("rejected", "missing_field", "/cart/cartId"),
    ("models", "product"): ("rejected", "invalid_type", "/events/0/product/unitPrice"),
    ("models", "basket-line"): ("rejected", "not_whole_number", "/cart/products/0/quantity"),
}
EVENT_TYPES = [
    "page-visit",
    "product-visited",
    "product-searched",
    "product-not-found",
    "search",
    "login",
    "register",
    "newsletter-subscribe",
    "purchase",
    "custom",
    "form-submitted",
    "modal-opened",
    "modal-closed",
    "web-content-opened",
]
MODELS = ["entityInfo", "cart", "product", "basket-line"]


def test_every_event_type_and_model_has_examples() -> None:
    from shopevents.schema.models import EVENT_TYPES as CODE_TYPES

    assert sorted(CODE_TYPES) == sorted(EVENT_TYPES)
    assert set(INVALID) == {("events", t) for t in EVENT_TYPES} | {("models", m) for m in MODELS}
    for kind, name in INVALID:
        for variant in ("valid", "invalid"):
            assert (EXAMPLE_DIR / kind / f"{name}.{variant}.json").is_file(), (kind, name, variant)


@pytest.mark.parametrize(
    ("kind", "name"), sorted(INVALID), ids=[f"{k}/{n}" for k, n in sorted(INVALID)]
)
def test_documented_examples(live: Live, kind: str, name: str) -> None:
    store = live.store()
    valid = json.loads((EXAMPLE_DIR / kind / f"{name}.valid.json").read_text())
    got = part_of(kind, name, live.post(store, envelope_for(kind, name, valid)).json())
    assert got["status"] == "accepted" and got["warnings"] == [], got

    invalid = json.loads((EXAMPLE_DIR / kind / f"{name}.invalid.json").read_text())
    got = part_of(kind, name, live.post(store, envelope_for(kind, name, invalid)).json())
    status, code, path = INVALID[(kind, name)]
    assert got["status"] == status, got
    if status == "rejected":
        assert (got["code"], got["path"]) == (code, path), got
    else:
        assert [(w["code"], w["path"]) for w in got["warnings"]] == [(code, path)], got
