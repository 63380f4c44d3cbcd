"""NUL (U+0000) in what a client sends: PostgreSQL text cannot hold it, so it must be refused
or removed before it reaches a query; never a 500. Over real HTTP on both backends: every
dashboard page and REST read with a NUL in a query parameter, dashboard paths and every REST
operation with a NUL in its path, the ingest endpoints, and NULs in dashboard forms and REST
bodies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from shopevents.api.openapi import openapi_document
from shopevents.asgi import nul_refusal
from shopevents.clock import FixedClock
from shopevents.config import Settings
from shopevents.storage.database import Database
from tests.conftest import StoreInfo
from tests.dashboard.support import dashboard_client, login
from tests.segment.conftest import add_write_key

NUL = "a\x00b"
PARAMS = ["q", "state", "code", "status", "groupBy", "store", "section", "next", "page",
          "contact", "view", "from", "to", "interval", "cursor", "currency", "date", "limit",
          "type", "format", "name"]  # fmt: skip


def test_nul_refusal_names_the_parameter() -> None:
    def scope(path: str, query: bytes) -> dict[str, object]:
        return {"type": "http", "path": path, "query_string": query}

    assert nul_refusal(scope("/api/contacts", b"q=a%20b&limit=5")) is None
    refused = nul_refusal(scope("/api/contacts", b"limit=5&q=a%00b"))
    assert refused is not None and refused.status == 422
    assert refused.errors == [
        {
            "code": "invalid_value",
            "path": "/q",
            "message": "Expected a text without NUL (U+0000) characters",
        }
    ]
    refused = nul_refusal(scope("/stores/s1/contacts/a\x00b", b""))
    assert refused is not None and (refused.status, refused.code) == (404, "not_found")
    assert nul_refusal(scope("/api/contacts/a\x00b", b"")) is None  # the REST API names it


def _admits_nul(schema: dict[str, object]) -> bool:
    """Whether a value the parameter's schema admits may hold a NUL (so a request that the
    document calls valid would be refused)."""
    if "enum" in schema or schema.get("type") not in (None, "string"):
        return False
    if "anyOf" in schema:
        return any(_admits_nul(branch) for branch in schema["anyOf"])  # type: ignore[attr-defined]
    if schema.get("format") in ("date", "date-time", "email"):
        return False
    pattern = schema.get("pattern")
    return not (isinstance(pattern, str) and re.search(pattern, "a\x00b") is None)


def test_every_text_parameter_is_documented_without_nul() -> None:
    """A path or query parameter holding a NUL is refused (422), so the document says that no
    parameter holds one: a case the document calls valid is never refused."""
    doc = openapi_document("http://testserver")
    admitting = [
        (method, path, param["name"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        for param in op.get("parameters", [])
        if _admits_nul(param["schema"])
    ]
    assert admitting == []


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[httpx.Client]:
    with dashboard_client(settings, db, FixedClock()) as client:
        yield client


def test_a_nul_in_a_query_or_path_is_refused_on_every_page_and_read(
    web: httpx.Client, store: StoreInfo
) -> None:
    login(web)
    s = f"/stores/{store.id}"
    pages = [
        *("/", "/switch-store", "/account/sessions"),
        *(s + p for p in ("/", "/contacts", "/catalog", "/carts", "/purchases", "/sources")),
        *(s + p for p in ("/debugger", "/debugger/requests.json", "/quarantine", "/settings")),
        *(s + p for p in ("/webhooks", "/custom-events", "/imports", "/accounts")),
    ]
    reads = ["/api/contacts", "/api/carts", "/api/purchases", "/api/products", "/api/imports"]
    refused = []
    for path in pages + reads:
        for param in PARAMS:
            r = web.get(path, params={param: NUL}, headers=store.auth)
            refused.append((path, param, r.status_code, r.json()["errors"][0]["path"]))
    assert {(status, where) for _, param, status, where in refused} == {
        (422, f"/{param}") for param in PARAMS
    }
    for path in ("/contacts/", "/catalog/", "/carts/", "/purchases/", "/debugger/requests/"):
        r = web.get(s + path + "a%00b")
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), path

    doc = openapi_document(str(web.base_url))
    answers = []
    for template, ops in doc["paths"].items():  # every REST operation with an id in its path
        path = re.sub(r"\{[^}]+\}", "a%00b", template)
        for method in set(ops) & {"get", "post", "patch", "put", "delete"}:
            r = web.request(method, path, json={}, headers=store.auth)
            documented = str(r.status_code) in ops[method]["responses"]
            answers.append((method, template, r.status_code, documented))
    assert [a for a in answers if "{" in a[1] and (a[2] != 422 or not a[3])] == []
    r = web.get("/api/products/product-id/a%00b", headers=store.auth)
    assert r.json()["errors"][0]["path"] == "/productId"


def test_nul_in_ingest_forms_and_bodies_is_never_a_500(web: httpx.Client, store: StoreInfo) -> None:
    csrf = login(web)
    s = f"/stores/{store.id}"
    answers = []
    body = b'{"events":[{"type":"page-visit"}]}'
    for path in (
        "/integration-type/system/scrippet-notification/a%00b",
        f"/integration-type/system/scrippet-notification/{store.id}?x=a%00b",
        "/v1/track",
        "/v1/batch",
    ):
        r = web.post(path, content=body, headers={"Content-Type": "text/plain"})
        answers.append((path, r.status_code))
    forms = [s + p for p in ("/settings", "/keys", "/write-keys", "/webhooks", "/accounts")]
    for path in [*forms, s + "/custom-events", "/stores", s + "/quarantine/replay"]:
        for field in ("name", "url", "description", "domains", "timezone", "username", "id",
                      "alias", "contact_email", "fields"):  # fmt: skip
            r = web.post(path, data={"csrf": csrf, field: NUL})
            answers.append((f"{path} {field}", r.status_code))
    for path in ("/api/contacts/a%40b.example", "/api/webhooks", "/api/write-keys"):
        for field in ("name", "url", "_name", "description", "events", "label"):
            for method in ("POST", "PATCH"):
                r = web.request(method, path, json={field: NUL}, headers=store.auth)
                answers.append((f"{method} {path} {field}", r.status_code))
    adjustments = {"cancellation": {"reason": NUL}, "refunds": {"refundId": "r", "amount": 1}}
    for kind, body in adjustments.items():
        body["reason"] = NUL
        r = web.post(f"/api/purchases/purchase-id/P1/{kind}", json=body, headers=store.auth)
        answers.append((kind, r.status_code))
    assert [a for a in answers if a[1] >= 500] == []
    r = web.post(s + "/keys", data={"csrf": csrf, "name": NUL})
    assert r.status_code == 200 and "ab" in r.text
    r = web.post("/api/write-keys", json={"name": NUL}, headers=store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/name", r.text
    for body, where in (
        ({"alias": "signup", "contactEmail": "/e" + NUL}, "/contactEmail"),
        ({"alias": "signup", "contactEmail": "/e", "payload": {"p": "/" + NUL}}, "/payload/p"),
    ):
        r = web.post("/api/custom-event-types", json=body, headers=store.auth)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == where, r.text


def test_nul_in_segment_messages_is_removed(
    web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    key = add_write_key(db, store.id)
    line = {"product_id": "p" + NUL, "name": NUL, "price": 1, "quantity": 1}
    messages = [
        {"type": "track", "event": "Product Added", "properties": {**line, "cart_id": "c" + NUL}},
        {"type": "track", "event": NUL, "properties": {NUL: NUL}},
        {"type": "identify", "traits": {"email": "ann@example.com", "tier" + NUL: NUL}},
        {"type": "page", "name": NUL, "properties": {"url": "https://shop.example/" + NUL}},
        {"type": "alias", "previousId": "u" + NUL},
    ]
    for message in messages:
        sent = {**message, "userId": "u" + NUL, "messageId": NUL, "writeKey": key}
        r = web.post(f"/v1/{message['type']}", json=sent)
        assert r.status_code == 200, (message, r.text)
    r = web.post("/v1/batch", json={"batch": messages, "writeKey": key, "context": {NUL: NUL}})
    assert r.status_code == 200, r.text
    carts = web.get("/api/carts", headers=store.auth).json()["items"]
    assert [c["cartId"] for c in carts] == ["cab"]
