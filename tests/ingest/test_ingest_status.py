"""Status codes of the ingest endpoint (product.md §2), over real HTTP on both backends:
400, 403 (unknown store, Origin), 413, 415, 429, 503 with Retry-After and recovery, CORS."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msgspec
import psycopg
import pytest

from shopevents.clock import SystemClock
from shopevents.config import IngestSettings, Settings, WorkerSettings
from shopevents.storage.database import Database
from tests.conftest import (
    CLUSTER_MODES,
    PG_URL,
    Collectors,
    LiveServer,
    StoreInfo,
    create_pg_database,
    drop_pg_database,
    example,
    ingest_path,
    live_server,
    make_store,
    pg_url_for,
    start_rig,
)

# The status codes come from the ingest endpoint, which collectors serve too.
pytestmark = pytest.mark.cluster

PAGE = {"events": [{"type": "page-visit"}]}
ERROR_KEYS = {"status", "code", "message", "errors"}


def settings(**ingest: Any) -> Settings:
    return Settings(
        worker=WorkerSettings(enabled=False),
        ingest=msgspec.structs.replace(IngestSettings(), **ingest),
    )


@pytest.fixture(scope="module", params=CLUSTER_MODES)
def shared_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def shared_db(shared_mode: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One database per mode for the module (a PostgreSQL database takes a second to make)."""
    name = None
    if shared_mode == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('status') / 's.db'}"
    else:
        name = create_pg_database()
        url = pg_url_for(name)
    database = Database(url)
    database.migrate()
    yield database
    database.close()
    if name:
        drop_pg_database(name)


@pytest.fixture(scope="module")
def running(
    shared_db: Database, shared_mode: str, request: pytest.FixtureRequest
) -> Iterator[LiveServer | Collectors]:
    """The server (embedded), or two collectors and two processors (cluster mode)."""
    rig = start_rig(request, settings(), shared_db) if shared_mode == "cluster" else None
    live = live_server(settings(), shared_db, SystemClock(), rig)
    yield live
    live.stop()
    if rig is not None:
        rig.stop()


@pytest.fixture
def db(shared_db: Database, running: LiveServer | Collectors) -> Database:
    return shared_db


@pytest.fixture
def client(running: LiveServer | Collectors) -> Iterator[httpx.Client]:
    with running.client(timeout=30) as c:
        yield c


def post(client: httpx.Client, store_id: str, body: Any = PAGE, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        ingest_path(store_id), content=content, headers={"Content-Type": "text/plain", **headers}
    )


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) >= ERROR_KEYS, body
    assert (body["status"], body["code"]) == (status, code), body
    assert body["message"]
    return body


# --- 200 and 400 ----------------------------------------------------------------------------


def test_200_answers_the_connectif_shape(client: httpx.Client, store: StoreInfo) -> None:
    r = post(client, store.id)
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"trackerId", "banners", "webContents", "webModals", "results"}
    assert len(body["trackerId"]) == 24
    again = post(client, store.id, {"events": [], "entityInfo": {"trackerId": body["trackerId"]}})
    assert again.json()["trackerId"] == body["trackerId"]


def test_empty_envelope_and_unknown_top_level_fields(
    client: httpx.Client, store: StoreInfo
) -> None:
    assert post(client, store.id, {}).json()["results"] == []
    r = post(
        client, store.id, {"events": [], "somethingNew": {"a": 1}, "bannerPlaceholders": ["x"]}
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_json"),
        (b"not json", "invalid_json"),
        (b'{"events": [', "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b"[]", "invalid_envelope"),
        (b'"events"', "invalid_envelope"),
        (b'{"events": {}}', "invalid_envelope"),
        (b'{"events": "page-visit"}', "invalid_envelope"),
        (b'{"requestId": 5}', "invalid_envelope"),
        (b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}", "invalid_json"),
    ],
)
def test_400(client: httpx.Client, store: StoreInfo, body: bytes, code: str) -> None:
    out = assert_error(post(client, store.id, body), 400, code)
    assert out["errors"] and out["errors"][0]["code"] == code


def test_400_names_line_and_column_and_pointer(client: httpx.Client, store: StoreInfo) -> None:
    out = assert_error(
        post(
            client,
            store.id,
            b'{\n  "events": [\n    {"type": "login"}\n    {"type": "page-visit"}\n  ]\n}',
        ),
        400,
        "invalid_json",
    )
    assert "line 4, column 5" in out["message"]
    assert "comma is probably missing at line 3" in out["message"]
    out = assert_error(
        post(client, store.id, b'{"events": [], "requestId": ["a"]}'), 400, "invalid_envelope"
    )
    assert out["errors"][0]["path"] == "/requestId"


def test_seed_article_as_printed_points_at_the_missing_comma(
    client: httpx.Client, store: StoreInfo
) -> None:
    out = assert_error(
        post(client, store.id, example("seed-article-as-printed.json")), 400, "invalid_json"
    )
    assert "line 28, column 31" in out["message"]


# --- 403 ------------------------------------------------------------------------------------


def test_unknown_store_is_403(client: httpx.Client) -> None:
    out = assert_error(post(client, "no-such-store"), 403, "unknown_store")
    assert "no-such-store" in out["message"]
    assert_error(post(client, "x" * 300), 403, "unknown_store")
    assert_error(post(client, "%C3%A9t%C3%A9"), 403, "unknown_store")


def test_store_id_with_nul_is_403(client: httpx.Client, db: Database) -> None:
    assert_error(post(client, "ab%00cd"), 403, "unknown_store")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example", True),
        ("http://shop.example:8080", True),
        ("https://www.shop.example", True),
        ("https://evil.example", False),
        ("https://shop.example.evil.test", False),
        ("https://evilshop.example", False),
        ("not a url", False),
    ],
)
def test_origin_outside_authorised_domains_is_403(
    client: httpx.Client, db: Database, origin: str, allowed: bool
) -> None:
    store = make_store(db, domains=["shop.example"])
    r = post(client, store.id, Origin=origin)
    if allowed:
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == origin
    else:
        assert_error(r, 403, "origin_not_allowed")
        # the browser may read the error: the CORS headers are on it too
        assert r.headers["access-control-allow-origin"] == origin
        with db.reader() as c:
            assert c.scalar("SELECT COUNT(*) FROM requests WHERE store_id = ?", (store.id,)) == 0


def test_no_domain_list_means_any_origin(client: httpx.Client, store: StoreInfo) -> None:
    for origin in ("https://anything.test", "http://localhost:3000"):
        r = post(client, store.id, Origin=origin)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin


def test_no_origin_header_is_not_a_browser_and_is_let_in(
    client: httpx.Client, db: Database
) -> None:
    store = make_store(db, domains=["shop.example"])
    assert post(client, store.id).status_code == 200


def test_cors_preflight(client: httpx.Client, db: Database) -> None:
    store = make_store(db, domains=["shop.example"])
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    r = client.options(ingest_path(store.id), headers={"Origin": "https://shop.example", **ask})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"].lower()
    assert int(r.headers["access-control-max-age"]) > 0
    r = client.options(ingest_path(store.id), headers={"Origin": "https://evil.example", **ask})
    assert_error(r, 403, "origin_not_allowed")
    r = client.options(ingest_path("nope"), headers={"Origin": "https://shop.example", **ask})
    assert_error(r, 403, "unknown_store")
    open_store = make_store(db)
    r = client.options(ingest_path(open_store.id), headers={"Origin": "https://any.test", **ask})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "https://any.test"


# --- 413 and encodings -------------------------------------------------------------------------


def big_envelope(size: int) -> bytes:
    body = json.dumps(
        {"events": [{"type": "custom", "eventId": "e", "payload": {"x": "y" * size}}]}
    )
    return body.encode()


def test_body_over_512_kb_is_413(client: httpx.Client, store: StoreInfo) -> None:
    body = big_envelope(513 * 1024)
    out = assert_error(post(client, store.id, body), 413, "payload_too_large")
    assert str(512 * 1024) in out["message"]


def test_chunked_body_over_the_limit_is_413(client: httpx.Client, store: StoreInfo) -> None:
    body = big_envelope(600 * 1024)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    r = client.post(ingest_path(store.id), content=chunks(), headers={"Content-Type": "text/plain"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "payload_too_large")


def test_body_just_under_the_limit_is_read(client: httpx.Client, store: StoreInfo) -> None:
    body = big_envelope(500 * 1024)
    assert len(body) < 512 * 1024
    out = post(client, store.id, body).json()
    assert out["results"][0]["code"] == "too_large"  # the event, not the request


def test_gzip_bodies(client: httpx.Client, store: StoreInfo) -> None:
    body = json.dumps(PAGE).encode()
    r = post(client, store.id, gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted"
    assert_error(
        post(client, store.id, b"\x1f\x8b not gzip", **{"Content-Encoding": "gzip"}),
        400,
        "invalid_json",
    )
    assert_error(
        post(client, store.id, gzip.compress(body)[:-12], **{"Content-Encoding": "gzip"}),
        400,
        "invalid_json",
    )
    assert_error(
        post(client, store.id, zlib.compress(body), **{"Content-Encoding": "deflate"}),
        415,
        "unsupported_encoding",
    )
    bomb = gzip.compress(big_envelope(5 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    assert_error(
        post(client, store.id, bomb, **{"Content-Encoding": "gzip"}), 413, "payload_too_large"
    )


@pytest.mark.embedded("starts its own server on the database")
def test_limits_are_configurable(db: Database) -> None:
    store = make_store(db)
    live = LiveServer(
        settings(max_body_bytes=2000, max_events=3, max_event_bytes=100), db, SystemClock()
    ).start()
    try:
        with httpx.Client(base_url=live.url) as c:
            assert_error(post(c, store.id, big_envelope(3000)), 413, "payload_too_large")
            assert_error(
                post(c, store.id, {"events": [{"type": "login"}] * 4}), 413, "too_many_events"
            )
            out = post(
                c, store.id, {"events": [{"type": "search", "searchText": "s" * 200}]}
            ).json()
            assert out["results"][0]["code"] == "too_large"
    finally:
        live.stop()


# --- 429 ------------------------------------------------------------------------------------


@pytest.mark.embedded("starts its own server on the database")
def test_rate_limit_per_store_is_429_with_retry_after(db: Database) -> None:
    store = make_store(db)
    other = make_store(db, "other")
    live = LiveServer(
        settings(rate_limit_per_store=1, retry_after_seconds=7), db, SystemClock()
    ).start()
    try:
        with httpx.Client(base_url=live.url) as c:
            codes = [post(c, store.id).status_code for _ in range(6)]
            assert codes[0] == 200 and 429 in codes
            r = post(c, store.id)
            assert_error(r, 429, "rate_limited")
            assert r.headers["retry-after"] == "7"
            assert post(c, other.id).status_code == 200  # per store
    finally:
        live.stop()


# --- 503 and recovery -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.embedded("starts its own server on the database")
def test_storage_down_is_503_with_retry_after_then_recovers(db_url: str) -> None:
    db = Database(db_url, busy_timeout_ms=200)
    db.migrate()
    store = make_store(db)
    live = LiveServer(settings(retry_after_seconds=3), db, SystemClock()).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            assert post(c, store.id).status_code == 200
            assert c.get("/api/store", headers=store.auth).status_code == 200
            with storage_down(db):
                r = post(
                    c,
                    store.id,
                    {
                        "events": [
                            {
                                "type": "purchase",
                                "purchase": {
                                    "purchaseId": "P-503",
                                    "totalQuantity": 0,
                                    "totalPrice": 0,
                                    "products": [],
                                },
                            }
                        ]
                    },
                )
                assert_error(r, 503, "storage_unavailable")
                assert r.headers["retry-after"] == "3"
                api = c.post(
                    "/api/purchases/",
                    json={
                        "purchaseId": "API-503",
                        "totalQuantity": 0,
                        "totalPrice": 0,
                        "products": [],
                    },
                    headers=store.auth,
                )
                assert_error(api, 503, "storage_unavailable")
                assert api.headers["retry-after"]
            # the next requests after recovery succeed
            r = post(
                c,
                store.id,
                {
                    "events": [
                        {
                            "type": "purchase",
                            "purchase": {
                                "purchaseId": "P-503",
                                "totalQuantity": 0,
                                "totalPrice": 0,
                                "products": [],
                            },
                        }
                    ]
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["results"][0]["status"] == "accepted"  # the failed attempt left nothing
            assert c.get("/api/store", headers=store.auth).status_code == 200
    finally:
        live.stop()


class storage_down:
    """SQLite: another connection holds the write lock. PostgreSQL: the database refuses
    connections and every open one is terminated."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.holder: sqlite3.Connection | None = None

    def _pg(self, allow: bool) -> None:
        name = self.db.target.rsplit("/", 1)[1]
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if allow else 'false'}")
            if not allow:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )

    def __enter__(self) -> None:
        if self.db.dialect == "sqlite":
            self.holder = sqlite3.connect(self.db.target, isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")
        else:
            self._pg(False)
            time.sleep(0.1)

    def __exit__(self, *exc: Any) -> None:
        if self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
        else:
            self._pg(True)


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.embedded("starts its own server on the database")
def test_reads_recover_right_after_an_outage(db_url: str) -> None:
    db = Database(db_url, busy_timeout_ms=200)
    db.migrate()
    store = make_store(db)
    live = LiveServer(settings(), db, SystemClock()).start()
    try:
        path = "/api/contacts/nobody@example.com"
        with ThreadPoolExecutor(8) as pool:  # several pooled read connections
            codes = list(
                pool.map(
                    lambda _: httpx.get(live.url + path, headers=store.auth).status_code, range(16)
                )
            )
        assert set(codes) == {404}
        with storage_down(db), httpx.Client(base_url=live.url) as c:
            # SQLite in WAL mode keeps serving reads while another connection holds the lock
            expected = 503 if db.dialect == "postgres" else 404
            assert c.get(path, headers=store.auth).status_code == expected
        with httpx.Client(base_url=live.url) as c:
            assert [c.get(path, headers=store.auth).status_code for _ in range(3)] == [404] * 3
    finally:
        live.stop()
