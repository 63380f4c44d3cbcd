"""The REST API over real HTTP on both backends: apiKey auth (keys per store, secrets hashed,
401, another store's data 404), one error shape with validationErrors, and the endpoints:
purchases (same ledger and verdicts as the browser), contacts, products."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shopevents.clock import SystemClock, to_micros
from shopevents.config import Settings, WorkerSettings
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    LiveServer,
    StoreInfo,
    create_pg_database,
    drop_pg_database,
    ingest_path,
    make_store,
    pg_url_for,
)

ERROR_KEYS = {"status", "code", "message", "errors"}


@dataclass
class Api:
    db: Database
    http: httpx.Client

    def store(self, **kw: Any) -> StoreInfo:
        return make_store(self.db, f"api-{uuid.uuid4().hex[:6]}", **kw)


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'a.db'}"
    else:
        name = create_pg_database()
        url = pg_url_for(name)
    db = Database(url)
    db.migrate()
    live = LiveServer(Settings(worker=WorkerSettings(enabled=False)), db, SystemClock()).start()
    client = httpx.Client(base_url=live.url, timeout=30)
    try:
        yield Api(db, client)
    finally:
        client.close()
        live.stop()
        if name:
            drop_pg_database(name)


def lamp(**kw: Any) -> dict[str, Any]:
    return {
        "productId": "SKU-42",
        "name": "Desk lamp",
        "productDetailUrl": "https://shop.example/p/sku-42",
        "unitPrice": 24.9,
        "quantity": 1,
        "price": 24.9,
        **kw,
    }


def purchase_body(pid: str = "POS-7781", **kw: Any) -> dict[str, Any]:
    return {
        "purchaseId": pid,
        "contactEmail": "ana.garcia@example.com",
        "purchaseDate": "2024-09-13T10:49:31Z",
        "totalQuantity": 1,
        "totalPrice": 24.9,
        "paymentMethod": "cash",
        "products": [lamp()],
        **kw,
    }


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= ERROR_KEYS, body
    assert (body["status"], body["code"]) == (status, code)
    assert body["message"]
    return body


def revenue(api: Api, store_id: str) -> tuple[int, Decimal]:
    with api.db.reader() as c:
        n, total = c.one(
            "SELECT COUNT(*), COALESCE(SUM(total_price), 0) FROM purchases WHERE store_id = ?",
            (store_id,),
        )
    return int(n), Decimal(int(total)) / 1_000_000


# --- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "apiKey",
        "apiKey no-colon",
        "apiKey key_0000000000000000:wrong",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    ],
)
def test_missing_or_wrong_key_is_401(api: Api, header: str | None) -> None:
    store = api.store()
    headers = {} if header is None else {"Authorization": header}
    for method, path in [
        ("GET", "/api/purchases/purchase-id/X"),
        ("GET", "/api/contacts/ana@example.com"),
        ("PATCH", "/api/contacts/ana@example.com"),
        ("POST", "/api/purchases/"),
        ("GET", "/api/products/product-id/SKU-1"),
        ("PATCH", "/api/products/product-id/SKU-1"),
    ]:
        r = api.http.request(method, path, headers=headers, json={})
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "apiKey"
    # a right key id with a wrong secret
    r = api.http.get(
        "/api/contacts/ana@example.com", headers={"Authorization": f"apiKey {store.key_id}:nope"}
    )
    assert_error(r, 401, "unauthorized")


def test_keys_are_per_store_hashed_and_revocable(api: Api) -> None:
    store = api.store()
    conn = api.db.connect()
    try:
        with conn.transaction():
            second = stores.create_api_key(
                conn, store.id, now=to_micros(SystemClock().now()), name="pos"
            )
        rows = conn.all("SELECT id, secret_hash FROM api_keys WHERE store_id = ?", (store.id,))
    finally:
        conn.close()
    assert len(rows) == 2
    stored = dict(rows)
    for key_id, secret in ((store.key_id, store.secret), second):
        assert secret not in stored[key_id]
        assert stored[key_id] == hashlib.sha256(secret.encode()).hexdigest()
        r = api.http.get(
            "/api/products/product-id/none", headers={"Authorization": f"apiKey {key_id}:{secret}"}
        )
        assert_error(r, 404, "not_found")
    # revoked on another connection than the server's: refused from the next request on
    auth = {"Authorization": f"apiKey {second[0]}:{second[1]}"}
    assert api.http.get("/api/products/product-id/none", headers=auth).status_code == 404
    conn = api.db.connect()
    try:
        with conn.transaction():
            assert stores.revoke_api_key(
                conn, store.id, second[0], now=to_micros(SystemClock().now())
            )
    finally:
        conn.close()
    assert_error(api.http.get("/api/products/product-id/none", headers=auth), 401, "unauthorized")
    # the store's other key still works
    assert api.http.get("/api/products/product-id/none", headers=store.auth).status_code == 404


KEY_SURFACES = [
    "/api/products/product-id/none",  # REST API
    "/api/reports/carts",  # reports
    "/api/webhooks",  # webhooks admin
    "/api/write-keys",  # Segment write keys
]


def test_a_key_revoked_by_the_cli_is_refused_on_the_next_request(api: Api) -> None:
    """`shopevents stores keys STORE --revoke ID`, run in its own process against the
    server's database while the server runs: every key-authenticated surface refuses the key
    from the next request on (no waiting: the server holds no cache of good keys)."""
    store = api.store()
    for path in KEY_SURFACES:
        assert api.http.get(path, headers=store.auth).status_code in (200, 404), path
    command = ["stores", "keys", store.id, "--revoke", store.key_id]
    done = subprocess.run(
        [sys.executable, "-m", "shopevents", "--database", api.db.url, *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for path in KEY_SURFACES:
        assert_error(api.http.get(path, headers=store.auth), 401, "unauthorized")


def test_concurrent_requests_each_get_their_own_keys_answer(api: Api) -> None:
    """Requests in flight together share the server's key look-ups; each still gets the
    answer for its own key: good keys of two stores, a revoked key, a wrong secret, an
    unknown key."""
    one, two, gone = api.store(), api.store(), api.store()
    conn = api.db.connect()
    try:
        with conn.transaction():
            assert stores.revoke_api_key(conn, gone.id, gone.key_id, now=1)
    finally:
        conn.close()
    cases = [
        (one.auth, 200, one.id),
        (two.auth, 200, two.id),
        (gone.auth, 401, None),
        ({"Authorization": f"apiKey {one.key_id}:{two.secret}"}, 401, None),
        ({"Authorization": f"apiKey key_{'0' * 16}:{one.secret}"}, 401, None),
    ] * 12

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=str(api.http.base_url), timeout=30) as client:
            return await asyncio.gather(*(client.get("/api/store", headers=h) for h, _, _ in cases))

    for (_, status, store_id), r in zip(cases, asyncio.run(send_all()), strict=True):
        assert r.status_code == status, r.text
        if store_id is not None:
            assert r.json()["id"] == store_id


def test_another_stores_data_is_404(api: Api) -> None:
    mine, theirs = api.store(), api.store()
    assert (
        api.http.post(
            "/api/purchases/", json=purchase_body("MINE-1"), headers=mine.auth
        ).status_code
        == 201
    )
    r = api.http.patch(
        "/api/products/product-id/SKU-MINE",
        json={"name": "Mine", "productDetailUrl": "https://shop.example/p", "unitPrice": 1},
        headers=mine.auth,
    )
    assert r.status_code == 201
    assert api.http.get("/api/purchases/purchase-id/MINE-1", headers=mine.auth).status_code == 200
    assert_error(
        api.http.get("/api/purchases/purchase-id/MINE-1", headers=theirs.auth), 404, "not_found"
    )
    assert_error(
        api.http.get("/api/contacts/ana.garcia@example.com", headers=theirs.auth), 404, "not_found"
    )
    assert_error(
        api.http.get("/api/products/product-id/SKU-MINE", headers=theirs.auth), 404, "not_found"
    )
    # and a write through the other store's key touches only the other store
    r = api.http.patch(
        "/api/products/product-id/SKU-MINE",
        json={"name": "Theirs", "productDetailUrl": "https://x.example", "unitPrice": 2},
        headers=theirs.auth,
    )
    assert r.status_code == 201
    assert (
        api.http.get("/api/products/product-id/SKU-MINE", headers=mine.auth).json()["name"]
        == "Mine"
    )


# --- purchases ------------------------------------------------------------------------------


def test_post_purchase_accepted_then_duplicate_then_conflict(api: Api) -> None:
    store = api.store()
    r = api.http.post(
        "/api/purchases/?triggerPurchaseEvent=false", json=purchase_body(), headers=store.auth
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "accepted" and out["warnings"] == []
    p = out["purchase"]
    assert p["purchaseId"] == "POS-7781" and p["contactEmail"] == "ana.garcia@example.com"
    assert Decimal(str(p["totalPrice"])) == Decimal("24.9") and p["totalQuantity"] == 1
    assert p["purchaseDate"] == "2024-09-13T10:49:31.000Z"
    assert p["channel"] == "api"

    again = api.http.post("/api/purchases/", json=purchase_body(), headers=store.auth)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"

    changed = api.http.post(
        "/api/purchases",
        json=purchase_body(totalPrice=30, products=[lamp(price=30, unitPrice=30)]),
        headers=store.auth,
    )
    body = assert_error(changed, 409, "purchase_conflict")
    assert body["purchase"]["purchaseId"] == "POS-7781"
    assert revenue(api, store.id) == (1, Decimal("24.9"))

    got = api.http.get("/api/purchases/purchase-id/POS-7781", headers=store.auth).json()
    assert len(got["conflicts"]) == 1 and got["conflicts"][0]["channel"] == "api"
    contact = api.http.get("/api/contacts/ana.garcia@example.com", headers=store.auth).json()
    assert contact["_totalPurchases"] == 1
    assert Decimal(str(contact["_totalPurchasesAmount"])) == Decimal("24.9")
    assert contact["_firstPurchaseDate"] == "2024-09-13T10:49:31.000Z"


def test_a_rest_purchase_is_stored_as_a_browser_request_is(api: Api) -> None:
    """A REST purchase goes through the intake transaction like any request: a request row
    (channel `api`) with its answer, the event with its verdict, the purchase on the contact's
    activity; a purchase without `contactEmail` makes no contact."""
    store = api.store()
    r = api.http.post("/api/purchases", json=purchase_body("REQ-1"), headers=store.auth)
    assert r.status_code == 201, r.text
    nobody = {k: v for k, v in purchase_body("REQ-2").items() if k != "contactEmail"}
    assert api.http.post("/api/purchases", json=nobody, headers=store.auth).status_code == 201
    with api.db.reader() as c:
        rows = c.all(
            "SELECT r.channel, r.response, r.contact_id, e.type, e.status FROM requests r "
            "JOIN events e ON e.request_id = r.id WHERE r.store_id = ? ORDER BY r.id",
            (store.id,),
        )
        contacts = c.scalar("SELECT COUNT(*) FROM contacts WHERE store_id = ?", (store.id,))
    assert [(ch, t, st) for ch, _, _, t, st in rows] == [("api", "purchase", "accepted")] * 2
    assert [json.loads(resp)["results"][0]["status"] for _, resp, _, _, _ in rows] == [
        "accepted",
        "accepted",
    ]
    assert rows[0][2] is not None and rows[1][2] is None
    assert contacts == 1
    activity = api.http.get(
        "/api/contacts/ana.garcia@example.com/activity", headers=store.auth
    ).json()
    kinds = [item["type"] for item in activity["items"]]
    assert kinds.count("purchase") == 1, activity


@pytest.mark.parametrize("first", ["browser", "api"])
def test_a_purchase_sent_by_browser_and_api_is_counted_once(api: Api, first: str) -> None:
    store = api.store()
    body = purchase_body("BOTH-1")
    browser_purchase = {k: v for k, v in body.items() if k != "contactEmail"}
    envelope = {
        "events": [{"type": "purchase", "purchase": browser_purchase}],
        "entityInfo": {"primaryKey": "ana.garcia@example.com"},
    }

    def via_browser() -> str:
        r = api.http.post(ingest_path(store.id), content=json.dumps(envelope))
        return r.json()["results"][0]["status"]

    def via_api() -> str:
        return api.http.post("/api/purchases/", json=body, headers=store.auth).json()["status"]

    order = [via_browser, via_api] if first == "browser" else [via_api, via_browser]
    assert [f() for f in order] == ["accepted", "duplicate"]
    assert revenue(api, store.id) == (1, Decimal("24.9"))
    contact = api.http.get("/api/contacts/ana.garcia@example.com", headers=store.auth).json()
    assert contact["_totalPurchases"] == 1


def test_purchase_verdicts_match_the_browser(api: Api) -> None:
    store = api.store(domains=["shop.example"])
    r = api.http.post(
        "/api/purchases/",
        json=purchase_body("W-1", totalPrice="24.90", sourceType="point-of-sale", totalQuantity=2),
        headers=store.auth,
    )
    assert r.status_code == 201, r.text
    codes = {(w["code"], w["path"]) for w in r.json()["warnings"]}
    assert codes == {
        ("coerced_number", "/totalPrice"),
        ("renamed_field", "/sourceType"),
        ("quantity_mismatch", "/totalQuantity"),
    }
    assert r.json()["purchase"]["source_type"] == "point-of-sale"


@pytest.mark.parametrize(
    ("change", "path", "says"),
    [
        ({"purchaseId": None}, "/purchaseId", "Expected `str`"),
        ({"totalPrice": "a lot"}, "/totalPrice", 'received "a lot"'),
        ({"totalPrice": -1}, "/totalPrice", "non-negative"),
        ({"totalQuantity": 1.5}, "/totalQuantity", "whole number"),
        ({"products": [lamp(quantity=-1)]}, "/products/0/quantity", "non-negative"),
        ({"source_type": "webshop"}, "/source_type", '"digital-store"'),
        ({"purchaseDate": "13/09/2024"}, "/purchaseDate", "ISO 8601"),
        ({"currency": "EURO"}, "/currency", "ISO 4217"),
        ({"contactEmail": "not-an-email"}, "/contactEmail", "e-mail"),
    ],
)
def test_invalid_purchase_is_422_with_validation_errors(
    api: Api, change: dict[str, Any], path: str, says: str
) -> None:
    store = api.store()
    body = purchase_body("BAD-1")
    for k, v in change.items():
        if v is None:
            body.pop(k)
        else:
            body[k] = v
    r = api.http.post("/api/purchases/", json=body, headers=store.auth)
    out = assert_error(r, 422, "validation_failed")
    assert out["validationErrors"], out
    first = out["validationErrors"][0]
    assert set(first) == {"path", "reason"}
    assert first["path"] == path, out
    if change.get("purchaseId", 0) is None:
        assert "purchaseId" in first["reason"]
    else:
        assert says in first["reason"], first
    assert out["errors"][0]["path"] == path
    assert revenue(api, store.id) == (0, Decimal(0))


def test_malformed_purchase_bodies(api: Api) -> None:
    store = api.store()
    r = api.http.post("/api/purchases/", content=b'{"purchaseId": "x",}', headers=store.auth)
    assert_error(r, 400, "invalid_json")
    assert_error(
        api.http.post("/api/purchases/", content=b"", headers=store.auth), 422, "validation_failed"
    )
    out = assert_error(
        api.http.post("/api/purchases/", json=[1, 2], headers=store.auth), 422, "validation_failed"
    )
    assert out["validationErrors"][0]["path"] == ""
    big = json.dumps(purchase_body(description="x" * (6 * 1024 * 1024))).encode()
    assert_error(
        api.http.post("/api/purchases/", content=big, headers=store.auth), 413, "payload_too_large"
    )


def test_get_purchase(api: Api) -> None:
    store = api.store()
    assert_error(
        api.http.get("/api/purchases/purchase-id/NOPE", headers=store.auth), 404, "not_found"
    )
    api.http.post("/api/purchases/", json=purchase_body("G 1 ü"), headers=store.auth)
    got = api.http.get("/api/purchases/purchase-id/G%201%20%C3%BC", headers=store.auth)
    assert got.status_code == 200, got.text
    p = got.json()
    assert p["purchaseId"] == "G 1 ü"
    assert p["products"][0]["productId"] == "SKU-42"
    assert p["paymentMethod"] == "cash"
    assert p["currency"] == "EUR"


def test_ids_with_a_slash(api: Api) -> None:
    store = api.store()
    r = api.http.post("/api/purchases/", json=purchase_body("2024/0001"), headers=store.auth)
    assert r.status_code == 201
    got = api.http.get("/api/purchases/purchase-id/2024%2F0001", headers=store.auth)
    assert got.status_code == 200, got.text
    body = {"name": "n", "productDetailUrl": "https://shop.example/p", "unitPrice": 1}
    r = api.http.patch("/api/products/product-id/A%2FB", json=body, headers=store.auth)
    assert r.status_code == 201
    got = api.http.get("/api/products/product-id/A%2FB", headers=store.auth)
    assert got.json()["productId"] == "A/B"


# --- contacts ----------------------------------------------------------------------------


def test_contacts_get_and_patch(api: Api) -> None:
    store = api.store()
    assert_error(
        api.http.get("/api/contacts/new@example.com", headers=store.auth), 404, "not_found"
    )
    r = api.http.patch(
        "/api/contacts/New@Example.com",
        json={
            "_name": "Ana",
            "_points": 10,
            "_newsletterSubscriptionStatus": "subscribed",
            "loyalty_tier": "gold",
        },
        headers=store.auth,
    )
    assert r.status_code == 201, r.text  # created when missing
    c = r.json()
    assert (c["_email"], c["_name"], c["_points"], c["loyalty_tier"]) == (
        "new@example.com",
        "Ana",
        10,
        "gold",
    )
    assert c["_isAnonymous"] is False and c["_totalPurchases"] == 0
    r = api.http.patch(
        "/api/contacts/new@example.com",
        json={"_surname": "García", "_points": "12"},
        headers=store.auth,
    )
    assert r.status_code == 200
    assert [w["code"] for w in r.json()["warnings"]] == ["coerced_number"]
    got = api.http.get("/api/contacts/new@example.com", headers=store.auth).json()
    assert (got["_name"], got["_surname"], got["_points"]) == ("Ana", "García", 12)
    assert "trackers" in got and "merges" in got
    # the browser and the API see one contact
    api.http.post(
        ingest_path(store.id),
        content=json.dumps(
            {"entityInfo": {"primaryKey": "new@example.com", "_mobilePhone": "+34600111222"}}
        ),
    )
    got = api.http.get("/api/contacts/new@example.com", headers=store.auth).json()
    assert got["_mobilePhone"] == "+34600111222" and got["_name"] == "Ana"


def test_contact_patch_validation(api: Api) -> None:
    store = api.store()
    out = assert_error(
        api.http.patch("/api/contacts/not-an-email", json={}, headers=store.auth),
        422,
        "validation_failed",
    )
    assert out["validationErrors"][0]["path"] == "/email"
    assert_error(
        api.http.patch("/api/contacts/a@example.com", json=["x"], headers=store.auth),
        422,
        "validation_failed",
    )
    assert_error(
        api.http.patch("/api/contacts/a@example.com", content=b"{", headers=store.auth),
        400,
        "invalid_json",
    )
    assert_error(api.http.get("/api/contacts/a@example.com", headers=store.auth), 404, "not_found")


def test_contact_patch_pointers_are_relative_to_the_body(api: Api) -> None:
    store = api.store()
    for body, path in (
        ({"_emailStatus": "gone"}, "/_emailStatus"),
        ({"_birthdate": "01/05/1980"}, "/_birthdate"),
    ):
        r = api.http.patch("/api/contacts/a@example.com", json=body, headers=store.auth)
        out = assert_error(r, 422, "validation_failed")
        assert out["validationErrors"][0]["path"] == path
    assert_error(api.http.get("/api/contacts/a@example.com", headers=store.auth), 404, "not_found")


# --- products ------------------------------------------------------------------------------


def test_products_patch_and_get(api: Api) -> None:
    store = api.store()
    assert_error(
        api.http.get("/api/products/product-id/KB-1", headers=store.auth), 404, "not_found"
    )
    create = {
        "name": "K-100",
        "productDetailUrl": "https://shop.example/p/kb-1",
        "unitPrice": 49.0,
        "availability": "InStock",
        "inStockUnits": 4,
    }
    r = api.http.patch("/api/products/product-id/KB-1", json=create, headers=store.auth)
    assert r.status_code == 201, r.text
    assert [w["code"] for w in r.json()["warnings"]] == ["normalized_value"]
    r = api.http.patch(
        "/api/products/product-id/KB-1",
        json={"unitPrice": "39.00", "isBlacklisted": True},
        headers=store.auth,
    )
    assert r.status_code == 200, r.text
    got = api.http.get("/api/products/product-id/KB-1", headers=store.auth).json()
    assert got["productId"] == "KB-1" and got["name"] == "K-100"
    assert Decimal(str(got["unitPrice"])) == Decimal("39")
    assert (
        got["availability"] == "instock"
        and got["inStockUnits"] == 4
        and got["isBlacklisted"] is True
    )


def test_product_patch_validation(api: Api) -> None:
    store = api.store()
    out = assert_error(
        api.http.patch(
            "/api/products/product-id/N-1",
            json={"name": "No price", "productDetailUrl": "https://x"},
            headers=store.auth,
        ),
        422,
        "validation_failed",
    )
    assert out["validationErrors"][0]["path"] == "/unitPrice"
    out = assert_error(
        api.http.patch(
            "/api/products/product-id/N-1",
            json={"name": "n", "productDetailUrl": "u", "unitPrice": -3},
            headers=store.auth,
        ),
        422,
        "validation_failed",
    )
    assert "non-negative" in out["validationErrors"][0]["reason"]
    out = assert_error(
        api.http.patch(
            "/api/products/product-id/N-1",
            json={"name": "n", "productDetailUrl": "u", "unitPrice": 1, "availability": "maybe"},
            headers=store.auth,
        ),
        422,
        "validation_failed",
    )
    assert out["validationErrors"][0]["path"] == "/availability"
    assert_error(api.http.get("/api/products/product-id/N-1", headers=store.auth), 404, "not_found")


def test_products_seen_by_the_browser_are_in_the_catalog(api: Api) -> None:
    store = api.store()
    ev = {
        "type": "product-visited",
        "product": {
            "productId": "SEEN-1",
            "name": "Seen",
            "productDetailUrl": "https://shop.example/p",
            "unitPrice": "5.50",
        },
    }
    api.http.post(ingest_path(store.id), content=json.dumps({"events": [ev]}))
    got = api.http.get("/api/products/product-id/SEEN-1", headers=store.auth)
    assert got.status_code == 200 and Decimal(str(got.json()["unitPrice"])) == Decimal("5.5")


def test_unknown_path_and_method_use_the_error_shape(api: Api) -> None:
    store = api.store()
    assert_error(api.http.get("/api/nothing-here", headers=store.auth), 404, "not_found")
    assert_error(
        api.http.put("/api/contacts/a@example.com", headers=store.auth),
        405,
        "method_not_allowed",
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/purchases/purchase-id/a%00b", None),
        ("GET", "/api/products/product-id/a%00b", None),
        (
            "PATCH",
            "/api/products/product-id/a%00b",
            {"name": "n", "productDetailUrl": "u", "unitPrice": 1},
        ),
        ("GET", "/api/carts?contact=a%00b@example.com", None),
        ("PATCH", "/api/store", {"name": "a\u0000b"}),
    ],
    ids=["get-purchase", "get-product", "patch-product", "carts-contact", "store-name"],
)
def test_nul_in_parameters_is_not_a_500(api: Api, method: str, path: str, body: Any) -> None:
    store = api.store()
    r = api.http.request(method, path, json=body, headers=store.auth)
    assert r.status_code in {200, 201, 404, 422}, r.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/purchases/"),
        ("PATCH", "/api/contacts/a@example.com"),
        ("PATCH", "/api/store"),
    ],
)
def test_deeply_nested_bodies_are_400(api: Api, method: str, path: str) -> None:
    store = api.store()
    body = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = api.http.request(method, path, content=body, headers=store.auth)
    assert_error(r, 400, "invalid_json")
