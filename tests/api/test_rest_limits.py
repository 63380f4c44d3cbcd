"""REST API body limits over real HTTP on both backends: a body over
`ingest.api_max_body_bytes` (declared, streamed without a length, or gzipped) and a purchase
over `ingest.api_max_lines` lines get `413` in the one error shape, before decoding; at the
limit they are served."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopevents.config import IngestSettings, Settings, WorkerSettings
from tests.conftest import LiveServer, StoreInfo

MAX_BODY = 64 * 1024
MAX_LINES = 10


@pytest.fixture
def settings() -> Settings:
    return Settings(
        worker=WorkerSettings(enabled=False),
        ingest=IngestSettings(api_max_body_bytes=MAX_BODY, api_max_lines=MAX_LINES),
    )


@pytest.fixture
def api(server: LiveServer, store: StoreInfo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60, headers=store.auth) as client:
        yield client


def line(i: int) -> dict[str, Any]:
    return {
        "productId": f"SKU-{i}",
        "name": "Lamp",
        "productDetailUrl": "https://shop.example/p/1",
        "unitPrice": 1,
        "quantity": 1,
        "price": 1,
    }


def purchase(lines: int) -> dict[str, Any]:
    return {
        "purchaseId": f"P-{uuid.uuid4().hex[:10]}",
        "totalQuantity": lines,
        "totalPrice": lines,
        "products": [line(i) for i in range(lines)],
    }


def check_413(r: httpx.Response, code: str) -> dict[str, Any]:
    assert r.status_code == 413, r.text[:300]
    body: dict[str, Any] = r.json()
    assert body["status"] == 413 and body["code"] == code, body
    assert body["message"] and isinstance(body["errors"], list)
    return body


def test_lines_over_the_limit_are_refused(api: httpx.Client) -> None:
    r = api.post("/api/purchases/", json=purchase(MAX_LINES))
    assert r.status_code == 201, r.text
    body = check_413(api.post("/api/purchases/", json=purchase(MAX_LINES + 1)), "too_many_lines")
    assert body["errors"][0]["path"] == "/products"
    assert str(MAX_LINES) in body["message"]
    # lines that are not even objects are counted the same way
    raw = purchase(1)
    raw["products"] = [1] * (MAX_LINES + 1)
    check_413(api.post("/api/purchases/", json=raw), "too_many_lines")


def test_bodies_over_the_limit_are_refused(api: httpx.Client) -> None:
    big = purchase(1)
    big["paymentMethod"] = "x" * MAX_BODY
    raw = json.dumps(big).encode()
    check_413(api.post("/api/purchases/", content=raw), "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for i in range(0, len(raw), 4096):
            yield raw[i : i + 4096]

    check_413(api.post("/api/purchases/", content=chunks()), "payload_too_large")
    # a gzip bomb: small on the wire, over the limit once decompressed
    bomb = gzip.compress(b'{"purchaseId":"' + b"0" * (50 * MAX_BODY) + b'"}')
    assert len(bomb) < MAX_BODY
    check_413(
        api.post("/api/purchases/", content=bomb, headers={"Content-Encoding": "gzip"}),
        "payload_too_large",
    )
    patch = json.dumps({"note": "x" * MAX_BODY}).encode()
    for path in ("/api/contacts/ana@example.com", "/api/products/product-id/SKU-1", "/api/store"):
        check_413(api.patch(path, content=patch), "payload_too_large")
    # just under the limit is read (and judged)
    ok = purchase(1)
    ok["paymentMethod"] = "x" * (MAX_BODY - len(json.dumps(ok)) - 40)
    r = api.post("/api/purchases/", json=ok)
    assert r.status_code == 201, r.text[:300]


def test_ids_past_what_storage_indexes_get_a_verdict(
    api: httpx.Client, server: LiveServer, store: StoreInfo
) -> None:
    """PostgreSQL cannot index a text of more than 2,704 bytes: such ids are refused."""
    long_id = "x" * 3000
    p = purchase(1)
    p["products"][0]["productId"] = long_id
    r = api.post("/api/purchases/", json=p)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["validationErrors"][0]["path"] == "/products/0/productId"
    r = api.patch(f"/api/products/product-id/{long_id}", json={"name": "n"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/productId", r.text[:300]
    p = purchase(1)
    p["purchaseId"] = long_id
    assert api.post("/api/purchases/", json=p).status_code == 422
    envelope = {
        "events": [
            {"type": "product-visited", "product": {**line(1), "productId": long_id}},
            {"type": "purchase", "purchase": {**purchase(1), "cartId": long_id}},
            {"type": "page-visit"},
        ],
        "cart": {"cartId": long_id, "totalQuantity": 0, "totalPrice": 0},
    }
    r = httpx.post(
        f"{server.url}/integration-type/system/scrippet-notification/{store.id}", json=envelope
    )
    assert r.status_code == 200, r.text[:300]
    results = r.json()["results"]
    assert results[0]["status"] == "rejected" and results[0]["code"] == "invalid_value"
    assert results[0]["path"] == "/events/0/product/productId"
    assert results[1]["status"] == "accepted"
    assert [w["path"] for w in results[1]["warnings"]] == ["/events/1/purchase/cartId"]
    assert results[2]["status"] == "accepted"
    assert r.json()["cart"]["status"] == "rejected" and r.json()["cart"]["path"] == "/cart/cartId"
