"""Headers and origins, over real HTTP on both backends: `Origin: null` is no authorised
domain; the client script whose `baseUrl` comes from the `Host` header is never left to a
shared cache; `/metrics` behind its optional token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from shopevents.clock import SystemClock
from shopevents.config import Settings, SettingsError, load_settings
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, ingest_path, make_store

TRACKER = "5f1d2c3b4a59687766554433"
PAGE = json.dumps({"events": [{"type": "page-visit"}], "entityInfo": {"trackerId": TRACKER}})


def live(settings: Settings, db: Database, **changes: str) -> LiveServer:
    return LiveServer(msgspec.structs.replace(settings, **changes), db, SystemClock()).start()


# --- Origin: null --------------------------------------------------------------------------


def test_origin_null_is_refused_where_the_store_has_domains(
    http: httpx.Client, db: Database
) -> None:
    guarded = make_store(db, "Guarded", domains=["shop.example"])
    open_store = make_store(db, "Open")
    r = http.post(
        ingest_path(guarded.id),
        content=PAGE,
        headers={"Origin": "null", "Content-Type": "text/plain"},
    )
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == "origin_not_allowed" and "null" in body["message"], body
    assert body["trackerId"] == TRACKER  # as every error answer: the visitor is kept
    anonymous = http.post(
        ingest_path(guarded.id), content=json.dumps({"events": []}), headers={"Origin": "null"}
    )
    assert anonymous.status_code == 403 and re.fullmatch(
        r"[0-9a-f]{24}", anonymous.json()["trackerId"]
    )
    pre = http.options(ingest_path(guarded.id), headers={"Origin": "null"})
    assert pre.status_code == 403, pre.text
    # an authorised origin, and a request without Origin (not from a page), still pass
    assert (
        http.post(
            ingest_path(guarded.id), content=PAGE, headers={"Origin": "https://shop.example"}
        ).status_code
        == 200
    )
    assert http.post(ingest_path(guarded.id), content=PAGE).status_code == 200
    # a store without domains accepts any origin, null included, as before
    r = http.post(ingest_path(open_store.id), content=PAGE, headers={"Origin": "null"})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted", r.text
    assert http.options(ingest_path(open_store.id), headers={"Origin": "null"}).status_code == 204


# --- the client script and the Host header ---------------------------------------------------


def conf_of(body: str) -> dict[str, object]:
    mt = re.search(r"var CONF = (\{.*?\});", body)
    assert mt, "no configuration in the served script"
    return dict(json.loads(mt.group(1)))


def test_without_public_url_the_script_is_private_and_varies_by_host(
    http: httpx.Client, server: LiveServer, store: StoreInfo
) -> None:
    r = http.get(f"/client-script/{store.id}", headers={"Host": "evil.example"})
    assert r.status_code == 200
    assert conf_of(r.text)["baseUrl"] == "http://evil.example/"  # from the Host header...
    cache = r.headers["cache-control"]
    assert cache.startswith("private") and "public" not in cache, (
        cache
    )  # ...so no shared cache keeps it
    assert "Host" in [v.strip() for v in r.headers["vary"].split(",")], r.headers["vary"]
    again = http.get(f"/client-script/{store.id}", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 200, "another host, another script (another ETag)"
    assert conf_of(again.text)["baseUrl"] == server.url + "/"


@pytest.fixture
def public_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    server = live(settings, db, public_url="https://events.myshop.example")
    yield server
    server.stop()


def test_with_public_url_the_script_is_public_whatever_the_host(
    public_server: LiveServer, store: StoreInfo
) -> None:
    with httpx.Client(base_url=public_server.url) as http:
        r = http.get(f"/client-script/{store.id}", headers={"Host": "evil.example"})
    assert r.status_code == 200
    assert conf_of(r.text)["baseUrl"] == "https://events.myshop.example/"
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert "host" not in r.headers["vary"].lower()


# --- /metrics --------------------------------------------------------------------------------


@pytest.fixture
def token_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    server = live(settings, db, metrics_token="s3cret-Token_1")
    yield server
    server.stop()


def test_metrics_token_when_set(token_server: LiveServer) -> None:
    with httpx.Client(base_url=token_server.url) as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "s3cret-Token_1"},
            {"Authorization": "Basic s3cret-Token_1"},
            {"Authorization": "Bearer s3cret-Token_"},
        ):
            r = http.get("/metrics", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.json()["code"] == "unauthorized" and "Bearer" in r.json()["message"]
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert "shopevents_" not in r.text
        ok = http.get("/metrics", headers={"Authorization": "Bearer s3cret-Token_1"})
        assert ok.status_code == 200 and "shopevents_ingest_requests_total" in ok.text
        assert (
            http.get("/metrics", headers={"Authorization": "bearer s3cret-Token_1"}).status_code
            == 200
        )
        assert http.get("/healthz").status_code == 200  # only /metrics is behind it


def test_metrics_open_without_a_token(http: httpx.Client) -> None:
    r = http.get("/metrics")
    assert r.status_code == 200 and "# TYPE shopevents_ingest_requests_total counter" in r.text


def test_metrics_token_setting_has_a_rule() -> None:
    s = load_settings(env={"SHOPEVENTS_METRICS_TOKEN": "abc-123"})
    assert s.metrics_token == "abc-123"
    assert load_settings(env={}).metrics_token == ""
    with pytest.raises(SettingsError, match=r"metrics_token .*without spaces"):
        load_settings(env={"SHOPEVENTS_METRICS_TOKEN": "two words"})
