"""Authorised domains in both forms stores use (host names, ours; URL prefixes, Connectif's),
over real HTTP on both backends: one rule for the CLI, `PATCH /api/store` and the dashboard's
settings form; the Origin check honours both; each script gets the form it understands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import SystemClock
from shopevents.config import Settings
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, ingest_path
from tests.dashboard.support import add_user, login, start_server

MIXED = ["Shop.Example", "HTTPS://WWW.Other.Example/es/"]
STORED = ["shop.example", "https://www.other.example/es/"]


def domains_of(db: Database, store_id: str) -> list[str]:
    with db.reader() as c:
        rec = stores.get_store(c, store_id)
    assert rec is not None
    return rec.domains


def test_rest_patch_accepts_both_forms_and_refuses_others_with_the_path(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    r = http.patch("/api/store", headers=store.auth, json={"domains": MIXED})
    assert r.status_code == 200, r.text
    assert r.json()["domains"] == STORED
    for bad, what in (
        (["shop.example", "shop.example/es"], "a path needs the scheme"),
        (["ftp://shop.example/"], "starts with http:// or https://"),
        (["https://"], "starts with http:// or https://"),
        (["shop example"], "Expected a host name"),
        (["shop.example", 7], "Expected a host name"),
    ):
        r = http.patch("/api/store", headers=store.auth, json={"domains": bad})
        assert r.status_code == 422, r.text
        body = r.json()
        path = f"/domains/{len(bad) - 1}"
        assert body["validationErrors"][0]["path"] == path, body
        assert what in body["message"], body
    assert domains_of(db, store.id) == STORED  # nothing of a refused change was kept


def test_cli_uses_the_same_rule(db_url: str, db: Database, store: StoreInfo) -> None:
    cli = CliRunner()
    args = ["--database", db_url, "stores", "update", store.id]
    ok = cli.invoke(main, [*args, "--domain", MIXED[0], "--domain", MIXED[1], "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["domains"] == STORED
    bad = cli.invoke(main, [*args, "--domain", "shop.example/es"])
    assert bad.exit_code == 2, bad.output
    assert "a path needs the scheme" in bad.output and "Traceback" not in bad.output
    created = cli.invoke(
        main, ["--database", db_url, "stores", "create", "Other", "--domain", "ftp://x", "--json"]
    )
    assert created.exit_code == 2 and "http:// or https://" in created.output
    assert domains_of(db, store.id) == STORED


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[httpx.Client]:
    live = start_server(settings, db, SystemClock())
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client
    live.stop()


def test_dashboard_settings_form_uses_the_same_rule(
    web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    csrf = login(web)
    form = {
        "csrf": csrf, "name": "Shop", "currency": "EUR", "timezone": "UTC",
        "domains": "\n".join(MIXED), "abandon_after": "30m", "tracking_enabled": "1",
        "excluded_paths": "",
    }  # fmt: skip
    ok = web.post(f"/stores/{store.id}/settings", data=form)
    assert ok.status_code == 303, ok.text
    assert domains_of(db, store.id) == STORED
    bad = web.post(f"/stores/{store.id}/settings", data={**form, "domains": "shop.example/es"})
    assert bad.status_code == 422 and "a path needs the scheme" in bad.text
    assert domains_of(db, store.id) == STORED


def test_origin_check_honours_both_forms(
    server: LiveServer, http: httpx.Client, store: StoreInfo
) -> None:
    assert http.patch("/api/store", headers=store.auth, json={"domains": STORED}).status_code == 200
    server.ctx.forget_store(store.id)
    page = json.dumps({"events": [{"type": "page-visit"}]})
    for origin, allowed in (
        ("https://shop.example", True),
        ("http://www.shop.example:8080", True),  # host name: subdomains, any scheme and port
        ("https://www.other.example", True),  # URL prefix: some page of it starts with it
        ("HTTPS://WWW.OTHER.EXAMPLE", True),
        ("http://www.other.example", False),  # another scheme
        ("https://other.example", False),  # another host
        ("https://evil.example", False),
    ):
        r = http.post(
            ingest_path(store.id),
            content=page,
            headers={"Origin": origin, "Content-Type": "text/plain"},
        )
        assert r.status_code == (200 if allowed else 403), (origin, r.text)
        pre = http.options(ingest_path(store.id), headers={"Origin": origin})
        assert pre.status_code == (204 if allowed else 403), origin
    # a product URL under a prefix entry is authorised; one beside it gets the warning
    events = [
        {
            "type": "product-visited",
            "product": {
                "productId": p,
                "name": "Lamp",
                "productDetailUrl": url,
                "unitPrice": 1,
            },
        }
        for p, url in (
            ("A", "https://www.other.example/es/p/a"),
            ("B", "https://www.other.example/fr/p/b"),
        )
    ]
    out = http.post(ingest_path(store.id), json={"events": events}).json()
    assert [[w["code"] for w in r["warnings"]] for r in out["results"]] == [
        [],
        ["url_not_authorized"],
    ]


def test_each_script_is_served_the_form_it_understands(
    http: httpx.Client, store: StoreInfo
) -> None:
    assert http.patch("/api/store", headers=store.auth, json={"domains": STORED}).status_code == 200
    body = http.get(f"/client-script/{store.id}").text
    mt = re.search(r'"allowedDomainRules":(\[[^\]]*\])', body)
    assert mt and json.loads(mt.group(1)) == STORED  # ours: the entries as stored
    mt = re.search(r'"allowedDomains":(\[[^\]]*\])', body)
    assert mt and json.loads(mt.group(1)) == [  # Connectif's: URL prefixes only
        "https://shop.example/",
        "http://shop.example/",
        "https://www.other.example/es/",
    ]
