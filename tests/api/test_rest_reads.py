"""REST lists over real HTTP on both backends: contacts by e-mail prefix, fragment and custom
field; products; purchases by date range; keyset cursors stable under inserts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopevents.clock import SystemClock
from shopevents.config import Settings, WorkerSettings
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    LiveServer,
    StoreInfo,
    make_store,
    migrated_database_url,
)


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, Database]]:
    with migrated_database_url(request.param, tmp_path_factory.mktemp("reads")) as url:
        db = Database(url)
        live = LiveServer(Settings(worker=WorkerSettings(enabled=False)), db, SystemClock()).start()
        try:
            with httpx.Client(base_url=live.url, timeout=30) as http:
                yield http, db
        finally:
            live.stop()
            db.close()


def new_store(api: tuple[httpx.Client, Database]) -> StoreInfo:
    return make_store(api[1], f"reads-{time.time_ns()}", domains=["shop.example"])


def walk(
    http: httpx.Client, store: StoreInfo, url: str, key: str, between: Any = None
) -> list[Any]:
    """Every page of a list, following `links.next`; `between(n)` runs after page n."""
    seen = []
    n = 0
    while url:
        r = http.get(url, headers=store.auth)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [item[key] for item in body["items"]]
        url = body["links"]["next"]
        assert (url is None) == (body["nextCursor"] is None)
        if between is not None:
            between(n)
        n += 1
    return seen


def test_contacts_by_prefix_fragment_and_field(api: tuple[httpx.Client, Database]) -> None:
    http, _ = api
    store = new_store(api)
    for email, tier in [
        ("ann@example.com", "gold"),
        ("anna@shop.example", "silver"),
        ("bob@example.com", "gold"),
        ("a_b%c@example.com", "bronze"),
    ]:
        http.patch(
            f"/api/contacts/{email}", json={"tier": tier, "_points": 3}, headers=store.auth
        ).raise_for_status()
    other = new_store(api)
    http.patch("/api/contacts/ann@other.example", json={}, headers=other.auth).raise_for_status()

    def emails(query: str) -> list[str]:
        return sorted(walk(http, store, f"/api/contacts?{query}", "_email"))

    assert emails("") == [
        "a_b%c@example.com",
        "ann@example.com",
        "anna@shop.example",
        "bob@example.com",
    ]
    assert emails("emailPrefix=ANN") == ["ann@example.com", "anna@shop.example"]
    assert emails("emailPrefix=a_") == ["a_b%c@example.com"]  # LIKE characters are literal
    assert emails("q=example.com") == ["a_b%c@example.com", "ann@example.com", "bob@example.com"]
    assert emails("field=tier:gold") == ["ann@example.com", "bob@example.com"]
    assert emails("field=_points:3&emailPrefix=b") == ["bob@example.com"]
    # NUL cannot be read back from PostgreSQL's JSON: it is removed from a contact's fields
    http.patch(
        "/api/contacts/nul@example.com",
        json={"tier": "g\u0000old", "n\u0000ote": ["a\u0000", {"b": "c\u0000"}]},
        headers=store.auth,
    ).raise_for_status()
    assert emails("field=tier:gold") == ["ann@example.com", "bob@example.com", "nul@example.com"]
    nul = http.get("/api/contacts/nul@example.com", headers=store.auth).json()
    assert (nul["tier"], nul["note"]) == ("gold", ["a", {"b": "c"}])
    one = http.get("/api/contacts?emailPrefix=bob", headers=store.auth).json()["items"][0]
    assert (one["_email"], one["tier"], one["_totalPurchases"]) == ("bob@example.com", "gold", 0)
    r = http.get("/api/contacts?field=tier", headers=store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/field"
    r = http.get("/api/contacts?limit=0", headers=store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/limit"
    assert http.get("/api/contacts").status_code == 401


def test_contact_pages_are_stable_under_inserts(api: tuple[httpx.Client, Database]) -> None:
    http, _ = api
    store = new_store(api)
    first = [f"c{i}@example.com" for i in range(7)]
    for email in first:
        http.patch(f"/api/contacts/{email}", json={}, headers=store.auth).raise_for_status()

    def insert(n: int) -> None:
        http.patch(
            f"/api/contacts/late{n}@example.com", json={}, headers=store.auth
        ).raise_for_status()

    seen = walk(http, store, "/api/contacts?limit=2", "_email", between=insert)
    assert len(seen) == len(set(seen))
    assert set(first) <= set(seen)


def product(i: int) -> dict[str, Any]:
    return {
        "name": f"Lamp {i}",
        "productDetailUrl": f"https://shop.example/p/{i}",
        "unitPrice": 10 + i,
    }


def test_products_list_and_search(api: tuple[httpx.Client, Database]) -> None:
    http, _ = api
    store = new_store(api)
    for i in range(5):
        http.patch(
            f"/api/products/product-id/SKU-{i}", json=product(i), headers=store.auth
        ).raise_for_status()
    http.patch(
        "/api/products/product-id/MUG-1", json={**product(9), "name": "Mug"}, headers=store.auth
    ).raise_for_status()
    ids = walk(http, store, "/api/products?limit=4", "productId")
    assert ids == ["MUG-1", "SKU-0", "SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    found = http.get("/api/products?q=MUG", headers=store.auth).json()["items"]
    assert [(p["productId"], p["name"], p["unitPrice"]) for p in found] == [("MUG-1", "Mug", 19)]


def purchase(pid: str, day: str) -> dict[str, Any]:
    return {
        "purchaseId": pid,
        "contactEmail": "ann@example.com",
        "purchaseDate": f"{day}T12:00:00Z",
        "totalQuantity": 1,
        "totalPrice": 11,
        "products": [
            {**product(1), "productId": "SKU-1", "unitPrice": 11, "quantity": 1, "price": 11}
        ],
    }


def test_purchases_by_date_range_paged(api: tuple[httpx.Client, Database]) -> None:
    http, _ = api
    store = new_store(api)
    days = ["2026-03-01", "2026-03-02", "2026-03-02", "2026-03-05", "2026-04-01"]
    for i, day in enumerate(days):
        http.post(
            "/api/purchases/", json=purchase(f"O-{i}", day), headers=store.auth
        ).raise_for_status()

    def late(n: int) -> None:  # purchases recorded while paging, inside the range
        http.post(
            "/api/purchases/", json=purchase(f"L-{n}", "2026-03-03"), headers=store.auth
        ).raise_for_status()

    seen = walk(
        http,
        store,
        "/api/purchases?from=2026-03-01&to=2026-03-31&limit=2",
        "purchaseId",
        between=late,
    )
    assert len(seen) == len(set(seen))
    assert [p for p in seen if p.startswith("O-")] == ["O-0", "O-1", "O-2", "O-3"]
    item = http.get("/api/purchases?from=2026-04-01&to=2026-04-01", headers=store.auth).json()[
        "items"
    ]
    assert [(p["purchaseId"], p["totalPrice"], p["contactEmail"]) for p in item] == [
        ("O-4", 11, "ann@example.com")
    ]
    r = http.get("/api/purchases?cursor=nonsense", headers=store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/cursor"
    r = http.get("/api/purchases?from=2026-05-01&to=2026-04-01", headers=store.auth)
    assert r.status_code == 200 and r.json()["items"] == []  # a range that ends before it starts
    r = http.get("/api/purchases?from=0001-01-01&to=9999-12-31", headers=store.auth)
    assert len(r.json()["items"]) >= 5
    for tz in ("Etc/GMT-14", "Etc/GMT+12"):  # UTC+14 and UTC-12: days past what UTC holds
        http.patch("/api/store", json={"timezone": tz}, headers=store.auth).raise_for_status()
        for query in ("from=0001-01-01", "to=9999-12-31", "from=0001-01-01&to=9999-12-31"):
            r = http.get(f"/api/purchases?{query}", headers=store.auth)
            assert r.status_code == 200 and len(r.json()["items"]) >= 5, (tz, query, r.text)
    r = http.get("/api/purchases?from=yesterday", headers=store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/from"
