"""The OpenAPI document against the route table and against real answers, on both backends.

Every route of the table is an operation of the document. Then one store is taken through
every operation that answers JSON (purchases, refunds, contacts, merges, carts, products,
settings, erasure, imports, custom events, webhooks, reports, rates, write keys) over real
HTTP, and each answer is compared key by key, all the way down, with the schema the document
gives for its status: no key the schema lacks, no required key missing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from shopevents.api.openapi import ALIASES, OPERATIONS, documented_path, openapi_document
from shopevents.api.table import KEYED
from shopevents.clock import SystemClock
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.storage.database import Database
from shopevents.webhooks.worker import worker_steps
from tests.conftest import (
    LiveServer,
    StoreInfo,
    ingest_path,
    make_store,
)
from tests.webhooks_receiver import Receiver


def test_every_route_of_the_table_is_an_operation_and_no_other() -> None:
    table = {(method, path) for method, path, _ in KEYED} - ALIASES
    assert set(OPERATIONS) == table
    doc = openapi_document("http://127.0.0.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(method, documented_path(path)) for method, path in table}


def test_every_answer_struct_is_a_component_with_its_fields() -> None:
    doc = openapi_document("http://127.0.0.1")
    schemas = doc["components"]["schemas"]
    purchase = schemas["PurchaseSummary"]["properties"]
    assert {"purchaseDate", "currency", "paymentMethod", "products"} <= set(purchase)
    assert schemas["Purchase"]["additionalProperties"] is False


# --- real answers ------------------------------------------------------------------------------


@dataclass
class Walk:
    """The document, a client with the store's key, and what was answered so far."""

    doc: dict[str, Any]
    http: httpx.Client
    store: StoreInfo
    answered: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, route: str, expect: int, **kw: Any) -> httpx.Response:
        """`path` requested; `route`, its path in the document."""
        r = self.http.request(method, path, headers=self.store.auth, **kw)
        assert r.status_code == expect, (method, path, r.status_code, r.text)
        self.answered.setdefault((method, route), set()).add(r.status_code)
        if r.status_code != 204:
            op = self.doc["paths"][route][method.lower()]
            documented = op["responses"][str(r.status_code)]
            schema = documented["content"]["application/json"]["schema"]
            self.problems += mismatches(r.json(), schema, self.doc, f"{method} {path}")
        return r


def resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def mismatches(value: Any, schema: dict[str, Any], doc: dict[str, Any], where: str) -> list[str]:
    """The keys of `value` the schema lacks and the required keys `value` lacks, recursively."""
    schema = resolve(schema, doc)
    if "anyOf" in schema:
        found = [mismatches(value, option, doc, where) for option in schema["anyOf"]]
        return [] if any(not f for f in found) else min(found, key=len)
    if value is None:
        return [] if "null" in str(schema.get("type")) else [f"{where}: null, not {schema}"]
    if isinstance(value, list):
        items = schema.get("items", {})
        return [p for i, v in enumerate(value) for p in mismatches(v, items, doc, f"{where}/{i}")]
    if not isinstance(value, dict):
        return []
    if schema.get("type") != "object":
        return [f"{where}: an object where the document has {schema}"]
    out = [f"{where}: lacks {k}" for k in schema.get("required", []) if k not in value]
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, v in value.items():
        if key in props:
            out += mismatches(v, props[key], doc, f"{where}/{key}")
        elif isinstance(extra, dict):
            out += mismatches(v, extra, doc, f"{where}/{key}")
        elif extra is False:
            out.append(f"{where}: {key} is not in the document")
    return out


@pytest.fixture
def walk(db: Database) -> Iterator[Walk]:
    store = make_store(db, "answers")
    settings = Settings(
        worker=WorkerSettings(enabled=True, interval_seconds=0.05),
        webhooks=WebhookSettings(allow_private_addresses=True, timeout_seconds=2.0),
    )
    live = LiveServer(settings, db, SystemClock())
    live.app.state.worker_steps = worker_steps(live.ctx)
    live.start()
    try:
        with live.client(timeout=30) as client:
            yield Walk(client.get("/api/openapi.json").json(), client, store)
    finally:
        live.stop()


LINE = {
    "productId": "SKU-1",
    "name": "Lamp",
    "productDetailUrl": "https://shop.example/p/1",
    "unitPrice": 10.5,
    "quantity": 2,
    "price": 21,
    "brand": "Acme",
    "categories": ["home"],
}


def ingest(w: Walk, body: dict[str, Any]) -> dict[str, Any]:
    r = w.http.post(ingest_path(w.store.id), content=json.dumps(body))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def sales(w: Walk) -> None:
    purchase = {
        "purchaseId": "ORD-1",
        "totalQuantity": 2,
        "totalPrice": 21,
        "currency": "EUR",
        "paymentMethod": "card",
        "contactEmail": "ana@example.com",
        "products": [LINE],
    }
    w.call("POST", "/api/purchases/", "/api/purchases/", 201, json=purchase)
    w.call("POST", "/api/purchases/", "/api/purchases/", 200, json=purchase)
    one = "/api/purchases/purchase-id/{purchaseId}"
    refund = {"refundId": "R-1", "lines": [{"productId": "SKU-1", "quantity": 1}]}
    w.call("POST", "/api/purchases/purchase-id/ORD-1/refunds", one + "/refunds", 201, json=refund)
    w.call("POST", "/api/purchases/purchase-id/ORD-1/refunds", one + "/refunds", 200, json=refund)
    w.call(
        "POST",
        "/api/purchases/purchase-id/ORD-2/refunds",
        one + "/refunds",
        201,
        json={"refundId": "R-2", "amount": 1},
    )
    w.call(
        "POST", "/api/purchases/purchase-id/ORD-1/cancellation", one + "/cancellation", 201, json={}
    )
    w.call("GET", "/api/purchases/purchase-id/ORD-1", one, 200)
    w.call("GET", "/api/purchases", "/api/purchases", 200)


def people(w: Walk) -> None:
    one = "/api/contacts/{email}"
    body = {"_name": "Ana", "_points": 3, "tier": "gold"}
    w.call("PATCH", "/api/contacts/bea@example.com", one, 201, json=body)
    w.call("PATCH", "/api/contacts/bea@example.com", one, 200, json={"_surname": "Ruiz"})
    ingest(w, {"events": [{"type": "login"}], "entityInfo": {"primaryKey": "sam@example.com"}})
    anon = ingest(w, {"events": [{"type": "page-visit"}]})["trackerId"]
    login = {
        "events": [{"type": "login"}],
        "entityInfo": {"primaryKey": "sam@example.com", "trackerId": anon},
    }
    ingest(w, login)
    sheet = w.call("GET", "/api/contacts/sam@example.com", one, 200).json()
    merge = sheet["merges"][0]["mergeId"]
    w.call("POST", f"/api/merges/{merge}/undo", "/api/merges/{mergeId}/undo", 200)
    w.call("GET", "/api/contacts/sam@example.com/activity?limit=1", one + "/activity", 200)
    w.call("GET", "/api/contacts", "/api/contacts", 200)
    w.call("GET", "/api/store/retention", "/api/store/retention", 200)
    w.call("PATCH", "/api/store/retention", "/api/store/retention", 200, json={"retentionDays": 30})
    erased = w.call("DELETE", "/api/contacts/bea@example.com", one, 200).json()
    w.call("GET", "/api/erasures", "/api/erasures", 200)
    w.call("GET", f"/api/erasures/{erased['id']}", "/api/erasures/{erasureId}", 200)


def catalog(w: Walk) -> None:
    one = "/api/products/product-id/{productId}"
    product = {k: v for k, v in LINE.items() if k not in ("quantity", "price")}
    w.call("PATCH", "/api/products/product-id/SKU-9", one, 201, json=product)
    w.call("PATCH", "/api/products/product-id/SKU-9", one, 200, json={**product, "rating": 4.5})
    w.call("GET", "/api/products/product-id/SKU-9", one, 200)
    w.call("GET", "/api/products", "/api/products", 200)
    cart = {"cartId": "c-1", "totalQuantity": 2, "totalPrice": 21, "products": [LINE]}
    ingest(
        w,
        {
            "events": [{"type": "page-visit"}],
            "entityInfo": {"primaryKey": "cy@example.com"},
            "cart": cart,
        },
    )
    carts = w.call("GET", "/api/carts", "/api/carts", 200).json()["items"]
    w.call("GET", f"/api/carts/{carts[0]['cartKey']}", "/api/carts/{cartKey}", 200)
    w.call("GET", "/api/store", "/api/store", 200)
    w.call("PATCH", "/api/store", "/api/store", 200, json={"name": "Answers"})


def bulk(w: Walk) -> None:
    rows = json.dumps(
        {**{k: v for k, v in LINE.items() if k not in ("quantity", "price")}, "productId": "SKU-7"}
    )
    done = w.call(
        "POST", "/api/imports?type=products&format=jsonl", "/api/imports", 201, content=rows + "\n"
    )
    w.call("GET", "/api/imports", "/api/imports", 200)
    w.call("GET", f"/api/imports/{done.json()['id']}", "/api/imports/{importId}", 200)


def events(w: Walk) -> None:
    types = "/api/custom-event-types"
    body = {"alias": "signup", "contactEmail": "/email", "payload": {"plan": "/plan"}}
    made = w.call("POST", types, types, 201, json=body).json()
    w.call("GET", types, types, 200)
    w.call("GET", f"{types}/{made['id']}", types + "/{eventId}", 200)
    sent = {"email": "dee@example.com", "plan": "pro"}
    w.call(
        "POST",
        "/api/custom-events/alias/signup?requestId=q1",
        "/api/custom-events/alias/{alias}",
        201,
        json=sent,
    )
    w.call(
        "POST",
        "/api/custom-events/alias/signup?requestId=q1",
        "/api/custom-events/alias/{alias}",
        200,
        json=sent,
    )
    by_id = "/api/custom-events/event-id/{eventId}"
    w.call("POST", f"/api/custom-events/event-id/{made['id']}", by_id, 201, json=sent)
    w.call("DELETE", f"{types}/{made['id']}", types + "/{eventId}", 204)
    key = w.call("POST", "/api/write-keys", "/api/write-keys", 201, json={"name": "web"}).json()
    w.call("GET", "/api/write-keys", "/api/write-keys", 200)
    w.call("DELETE", f"/api/write-keys/{key['id']}", "/api/write-keys/{keyId}", 204)


def hooks(w: Walk, receiver: Receiver) -> None:
    one = "/api/webhooks/{endpointId}"
    made = w.call(
        "POST",
        "/api/webhooks",
        "/api/webhooks",
        201,
        json={"url": receiver.url, "topics": ["ping"]},
    )
    eid = made.json()["id"]
    w.call("GET", "/api/webhooks", "/api/webhooks", 200)
    did = w.call("POST", f"/api/webhooks/{eid}/ping", one + "/ping", 202).json()["deliveryId"]
    delivery = "/api/webhooks/deliveries/{deliveryId}"

    deadline = time.monotonic() + 15
    while (
        w.http.get(f"/api/webhooks/deliveries/{did}", headers=w.store.auth).json()["status"]
        != "failed"
    ):
        assert time.monotonic() < deadline, "the ping was not tried in time"
        time.sleep(0.05)
    w.call("GET", f"/api/webhooks/{eid}", one, 200)
    w.call("GET", f"/api/webhooks/{eid}/deliveries", one + "/deliveries", 200)
    w.call("GET", f"/api/webhooks/deliveries/{did}", delivery, 200)
    w.call("POST", f"/api/webhooks/deliveries/{did}/replay", delivery + "/replay", 202)
    w.call("DELETE", f"/api/webhooks/{eid}", one, 204)


def reports(w: Walk) -> None:
    for name, query in (
        ("revenue", "?groupBy=payment_method"),
        ("carts", ""),
        ("products", ""),
        ("data-quality", ""),
        ("sources", ""),
    ):
        w.call("GET", f"/api/reports/{name}{query}", f"/api/reports/{name}", 200)
    rates = {"rates": [{"date": "2026-01-02", "currency": "USD", "rate": 1.1}]}
    w.call("POST", "/api/rates", "/api/rates", 200, json=rates)
    w.call("GET", "/api/rates?date=2026-01-02", "/api/rates", 200)


def test_every_answer_has_the_keys_the_document_gives(walk: Walk) -> None:
    receiver = Receiver()
    receiver.status = 410
    receiver.start()
    try:
        for step in (sales, people, catalog, bulk, events, reports):
            step(walk)
        hooks(walk, receiver)
    finally:
        receiver.stop()
    assert walk.problems == []
    untried = {
        (method.upper(), path)
        for path, ops in walk.doc["paths"].items()
        for method in ops
        if (method.upper(), path) not in walk.answered
    }
    assert untried == {("GET", "/api/exports/{what}")}  # not JSON: rows streamed
    for (method, path), statuses in walk.answered.items():
        documented = walk.doc["paths"][path][method.lower()]["responses"]
        assert {str(s) for s in statuses} <= set(documented), (method, path)


def test_a_key_the_document_lacks_is_found() -> None:
    doc = openapi_document("http://127.0.0.1")
    schema = {"$ref": "#/components/schemas/Store"}
    assert mismatches({"id": "s"}, schema, doc, "store")
    answer = {
        "id": "s",
        "name": "n",
        "currency": "EUR",
        "reportingCurrency": "EUR",
        "timezone": "UTC",
        "domains": [],
        "abandonAfterSeconds": 60,
        "tagMode": False,
        "trackingEnabled": True,
        "excludedPaths": [],
        "keepBots": False,
        "consentRequired": False,
        "honourGpc": False,
    }
    assert mismatches(answer, schema, doc, "store") == []
    assert mismatches({**answer, "surprise": 1}, schema, doc, "store") == [
        "store: surprise is not in the document"
    ]
