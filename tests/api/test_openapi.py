"""The OpenAPI document at /api/openapi.json matches the implementation, on both backends.

The document lists exactly the routes the app serves, and schemathesis (positive and negative
cases, bounded) calls every operation on a live server with an API key: no 500, documented
status codes and content types, responses that match their schemas, valid data accepted and
(for parameters) invalid data rejected. Each disagreement found is pinned by its own test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from shopevents.clock import SystemClock
from shopevents.config import Settings, WorkerSettings
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    LiveServer,
    StoreInfo,
    create_pg_database,
    drop_pg_database,
    make_store,
    pg_url_for,
)

EXAMPLES = int(os.environ.get("SHOPEVENTS_OPENAPI_EXAMPLES", "12"))


@dataclass
class Served:
    server: LiveServer
    store: StoreInfo
    doc: dict[str, Any]
    http: httpx.Client
    dialect: str
    # schemathesis's connection to the server, kept open from one case to the next
    session: requests.Session


@contextlib.contextmanager
def _serve(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A live server of the app on a new database of `backend`, with a store and its key."""
    name = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'o.db'}"
    else:
        name = create_pg_database()
        url = pg_url_for(name)
    db = Database(url)
    db.migrate()
    store = make_store(db, "openapi")
    live = LiveServer(Settings(worker=WorkerSettings(enabled=False)), db, SystemClock()).start()
    client = httpx.Client(base_url=live.url, timeout=30)
    session = requests.Session()
    session.trust_env = False  # no proxy for loopback: not looked up again for every case
    try:
        r = client.get("/api/openapi.json")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        yield Served(live, store, r.json(), client, db.dialect, session)
    finally:
        session.close()
        client.close()
        live.stop()
        if name:
            drop_pg_database(name)


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with _serve(request.param, tmp_path_factory) as served:
        yield served


@pytest.fixture(scope="module")
def every_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Served]]:
    """A live server on each backend: schemathesis sends each case it makes to every one."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(_serve(b, tmp_path_factory)) for b in BACKENDS]


# --- the document and the routes ------------------------------------------------------------


def test_document_basics(served: Served) -> None:
    doc = served.doc
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"][0]["url"] == served.server.url
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert doc["security"] == [{"apiKey": []}]
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"status", "code", "message", "errors"}
    assert error["properties"]["validationErrors"]["items"]["required"] == ["path", "reason"]
    schemathesis.openapi.from_dict(doc)  # loads as a valid OpenAPI document


def _served_routes(server: LiveServer) -> set[tuple[str, str]]:
    out = set()
    for route in server.app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            path = re.sub(
                r"\{(\w+?)(:\w+)?\}", lambda m: "{" + _camel(m.group(1)) + "}", route.path
            )
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((method, path))
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def test_document_lists_exactly_the_served_routes(served: Served) -> None:
    documented = {(m.upper(), p) for p, ops in served.doc["paths"].items() for m in ops}
    served_routes = _served_routes(served.server)
    served_routes -= {
        ("GET", "/api/openapi.json"),
        ("POST", "/api/purchases"),
    }  # the document; an alias
    assert documented - served_routes == set(), "documented but not served"
    undocumented = served_routes - documented
    assert undocumented == set(), "served but not documented"


def test_every_operation_documents_auth_and_errors(served: Served) -> None:
    for path, ops in served.doc["paths"].items():
        for method, op in ops.items():
            assert op.get("operationId"), (method, path)
            assert "401" in op["responses"], (method, path)
            for status, resp in op["responses"].items():
                if status >= "400":
                    schema = resp["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


# --- schemathesis -----------------------------------------------------------------------------


def _with_known_fixes(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as served (the disagreements still open are pinned below)."""
    return doc


POSITIVE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# Negative cases: never a 500, and errors in the documented shape. (Whether a parameter out
# of its schema is refused is pinned by the tests below; unknown parameters are ignored and a
# body is read leniently, with warnings, by design.)
NEGATIVE = [not_a_server_error, content_type_conformance, response_schema_conformance]


def _operations(doc: dict[str, Any]) -> list[Any]:
    schema = schemathesis.openapi.from_dict(_with_known_fixes(doc))
    return [r.ok() for r in schema.get_all_operations()]


MODES = pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
# The REST API of purchases, contacts and products, and the carts, merges and store settings
# next to them. Other documented operations are run by test_schemathesis_other.
CORE = (
    "/api/purchases",
    "/api/contacts",
    "/api/products",
    "/api/carts",
    "/api/merges",
    "/api/store",
)


def _schemathesis(servers: list[Served], mode: GenerationMode, core: bool) -> dict[str, str]:
    failures: dict[str, str] = {}
    for op in _operations(servers[0].doc):
        if op.path.startswith("/api/webhooks"):
            continue  # they call out to the URLs they are given: tested with their own fakes
        if op.path.startswith(CORE) != core:
            continue
        checks = POSITIVE if mode == GenerationMode.POSITIVE else NEGATIVE
        if not core:
            checks = [c for c in checks if c is not positive_data_acceptance]
        _run(servers, op, mode, checks, failures)
    return failures


@pytest.mark.slow
@MODES
def test_schemathesis(every_backend: list[Served], mode: GenerationMode) -> None:
    failures = _schemathesis(every_backend, mode, core=True)
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())


@pytest.mark.slow
@MODES
def test_schemathesis_other(every_backend: list[Served], mode: GenerationMode) -> None:
    """The rest of the document (reports). Their days must also be in order and at most
    3,700 apart, a constraint across two parameters that JSON Schema cannot state and the
    document states in words, so positive cases are not required to be accepted there."""
    failures = _schemathesis(every_backend, mode, core=False)
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())


def _run(
    servers: list[Served],
    op: Any,
    mode: GenerationMode,
    checks: list[Any],
    failures: dict[str, str],
) -> None:
    """Cases of one operation, each sent to the server of every backend (a case costs more to
    make than to send)."""

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # an id with a line break, and a date past year 1 or 9999 once in UTC, are pinned below
        body = json.dumps(case.body, default=str)
        assume('"0001-01-01' not in body and '"9999-12-31' not in body)
        ids = [str(v).lower() for v in (case.path_parameters or {}).values()]  # URL-encoded
        assume(not any("%0a" in v or "\n" in v for v in ids))
        # a whole float for abandonAfterSeconds is pinned below
        assume(
            not (
                isinstance(case.body, dict)
                and isinstance(case.body.get("abandonAfterSeconds"), float)
            )
        )
        for served in servers:
            try:
                case.call_and_validate(
                    base_url=served.server.url,
                    session=served.session,
                    headers=served.store.auth,
                    checks=checks,
                )
            except (Exception, FailureGroup) as exc:  # collect, one per operation, and go on
                failures.setdefault(f"{op.label} ({served.dialect})", str(exc)[:3000])
            finally:
                served.session.cookies.clear()  # each case as a new client would send it

    run()


# --- the disagreements found, each pinned --------------------------------------------------------


def test_email_parameter_is_documented_as_an_email(served: Served) -> None:
    param = served.doc["paths"]["/api/contacts/{email}"]["get"]["parameters"][0]
    assert param["schema"].get("pattern") or param["schema"].get("format") == "email"


def test_activity_cursor_is_documented(served: Served) -> None:
    op = served.doc["paths"]["/api/contacts/{email}/activity"]["get"]
    cursor = next(p for p in op["parameters"] if p["name"] == "cursor")
    assert cursor["schema"].get("pattern") or cursor.get("description")


def body_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The JSON schema of an operation's request body, its `$ref` followed."""
    schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rpartition("/")[2]
    return dict(doc["components"]["schemas"][name])


def test_contact_birthdate_is_documented_as_a_date(served: Served) -> None:
    prop = body_schema(served.doc, "/api/contacts/{email}", "patch")["properties"]["_birthdate"]
    text = [branch for branch in prop.get("anyOf", [prop]) if branch.get("type") == "string"]
    assert text[0].get("format") == "date-time"


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "offset=-1", "status=", "contact=nobody@example.com&limit=x"]
)
def test_paging_outside_the_documented_range_is_refused(served: Served, query: str) -> None:
    r = served.http.get(f"/api/carts?{query}", headers=served.store.auth)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("field", ["currency", "timezone"])
def test_store_patch_documents_what_is_accepted(served: Served, field: str) -> None:
    prop = body_schema(served.doc, "/api/store", "patch")["properties"][field]
    assert "enum" in prop or "pattern" in prop


def test_store_delay_as_a_whole_float(served: Served) -> None:
    r = served.http.patch(
        "/api/store", json={"abandonAfterSeconds": 600.0}, headers=served.store.auth
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/carts/%C2%B26"), ("POST", "/api/merges/%C2%B26/undo")]
)
def test_unicode_digits_in_ids_are_404(served: Served, method: str, path: str) -> None:
    r = served.http.request(method, path, headers=served.store.auth)
    assert r.status_code == 404, r.text


def test_ids_with_a_line_break(served: Served) -> None:
    body = {"name": "n", "productDetailUrl": "https://shop.example/p", "unitPrice": 1}
    r = served.http.patch("/api/products/product-id/a%0Ab", json=body, headers=served.store.auth)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("when", ["0001-01-01T00:01:00.0+04:05", "9999-12-31T23:00:00-01:30"])
def test_a_date_past_what_utc_holds_is_refused_as_documented(served: Served, when: str) -> None:
    schema = body_schema(served.doc, "/api/purchases/", "post")["properties"]["purchaseDate"]
    text = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") == "string"]
    assert "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z" in text[0]["description"]
    body = {"purchaseId": "past", "totalQuantity": 0, "totalPrice": 0, "products": []}
    r = served.http.post(
        "/api/purchases/", json={**body, "purchaseDate": when}, headers=served.store.auth
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/purchaseDate", r.text


def test_an_id_of_nothing_but_nul_is_documented_as_refused(served: Served) -> None:
    """NULs are removed from a text: an id that held nothing else is empty, and refused."""
    schema = body_schema(served.doc, "/api/purchases/", "post")["properties"]["purchaseId"]
    assert re.search(schema["pattern"], "\x00\x00") is None
    assert re.search(schema["pattern"], "a\x00") is not None
    body = {"purchaseId": "\x00", "totalQuantity": 0, "totalPrice": 0, "products": []}
    r = served.http.post("/api/purchases/", json=body, headers=served.store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/purchaseId", r.text
    prop = body_schema(served.doc, "/api/custom-events/alias/{alias}", "post")["properties"]
    assert re.search(prop["requestId"]["pattern"], "a\x00") is None


@pytest.mark.parametrize("field", ["name", "domains", "excludedPaths"])
def test_store_texts_documented_without_nul(served: Served, field: str) -> None:
    prop = body_schema(served.doc, "/api/store", "patch")["properties"][field]
    pattern = (prop.get("items") or prop)["pattern"]
    assert re.search(pattern, "a\x00b") is None
