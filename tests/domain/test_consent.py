"""Consent (docs/privacy.md#consent), over real HTTP on both backends: the store's two
settings through the CLI, `PATCH /api/store` and the dashboard's form (one rule); a request
refused for consent is answered `200` with every part `rejected` `no_consent`, no tracker,
and nothing written (but the counters of /metrics); with consent, as before; a store with
neither setting answers Connectif's traffic exactly as before."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

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

EMAIL = "jane@example.com"
TRACKER = "5f1d2c3b4a59687766554433"


def envelope(**extra: Any) -> dict[str, Any]:
    """A request with a bit of everything: identification, cart, purchase, page visit."""
    line = {
        "productId": "SKU-1", "name": "Lamp", "productDetailUrl": "https://shop.example/p/1",
        "unitPrice": 10, "quantity": 2, "price": 20,
    }  # fmt: skip
    return {
        "events": [
            {
                "type": "purchase",
                "purchase": {
                    "purchaseId": "ORD-1",
                    "totalQuantity": 2,
                    "totalPrice": 20,
                    "products": [line],
                },
            },
            {"type": "page-visit"},
        ],
        "entityInfo": {"primaryKey": EMAIL, "_name": "Jane"},
        "cart": {"cartId": "c-1", "totalQuantity": 2, "totalPrice": 20, "products": [line]},
        "browserInfo": {"url": "https://shop.example/thanks"},
        **extra,
    }


def row_counts(db: Database) -> dict[str, int]:
    """Rows of every table."""
    with db.reader() as c:
        if db.dialect == "sqlite":
            names = [
                r[0]
                for r in c.all("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not r[0].startswith("sqlite_")
            ]
        else:
            names = [
                r[0] for r in c.all("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
        return {n: int(c.scalar(f"SELECT COUNT(*) FROM {n}")) for n in names}


def set_store(db: Database, server: LiveServer, store_id: str, **changes: Any) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            stores.update_store(conn, store_id, changes)
    finally:
        conn.close()
    server.ctx.forget_store(store_id)


def post(http: httpx.Client, store_id: str, body: Any, **headers: str) -> httpx.Response:
    return http.post(
        ingest_path(store_id),
        content=json.dumps(body),
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example", **headers},
    )


def metric(http: httpx.Client, outcome: str) -> int:
    text = http.get("/metrics").text
    mt = re.search(rf'^shopevents_ingest_events_total{{outcome="{outcome}"}} (\d+)$', text, re.M)
    return int(mt.group(1)) if mt else 0


def assert_refused(answer: dict[str, Any], message_part: str) -> None:
    assert answer["trackerId"] == "" and answer["consent"] is False, answer
    assert [
        (r["index"], r["type"], r["status"], r["code"], r["path"]) for r in answer["results"]
    ] == [
        (0, "purchase", "rejected", "no_consent", "/consent"),
        (1, "page-visit", "rejected", "no_consent", "/consent"),
    ]
    assert message_part in answer["results"][0]["message"], answer
    for part in ("cart", "entityInfo"):
        assert (answer[part]["status"], answer[part]["code"]) == ("rejected", "no_consent")
    assert EMAIL not in json.dumps(answer), "nothing of the body is echoed"
    assert (answer["banners"], answer["webContents"], answer["webModals"]) == ([], [], {})


# --- the settings: one rule for REST, the CLI and the dashboard ---------------------------------


def test_rest_sets_and_shows_both_settings_and_refuses_what_is_not_a_boolean(
    http: httpx.Client, store: StoreInfo
) -> None:
    shown = http.get("/api/store", headers=store.auth).json()
    assert (shown["consentRequired"], shown["honourGpc"]) == (False, False)  # the defaults
    r = http.patch(
        "/api/store", headers=store.auth, json={"consentRequired": True, "honourGpc": True}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["consentRequired"], r.json()["honourGpc"]) == (True, True)
    for key, bad in (("consentRequired", "yes"), ("honourGpc", 1), ("consentRequired", None)):
        r = http.patch("/api/store", headers=store.auth, json={key: bad})
        assert r.status_code == 422, r.text
        err = r.json()["validationErrors"][0]
        assert err["path"] == f"/{key}" and "Expected true or false" in err["reason"], err
    shown = http.get("/api/store", headers=store.auth).json()
    assert (shown["consentRequired"], shown["honourGpc"]) == (True, True)


def test_cli_stores_update_sets_both(db_url: str, db: Database, store: StoreInfo) -> None:
    cli = CliRunner()
    args = ["--database", db_url, "stores", "update", store.id]
    ok = cli.invoke(main, [*args, "--consent-required", "on", "--honour-gpc", "on", "--json"])
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert (out["consentRequired"], out["honourGpc"]) == (True, True)
    off = cli.invoke(main, [*args, "--honour-gpc", "off", "--json"])
    assert json.loads(off.stdout)["honourGpc"] is False
    bad = cli.invoke(main, [*args, "--consent-required", "yes"])
    assert bad.exit_code == 2 and "--consent-required" in bad.output, bad.output
    assert "Traceback" not in bad.output
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None and (rec.consent_required, rec.honour_gpc) == (True, False)


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[httpx.Client]:
    live = start_server(settings, db, SystemClock())
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client
    live.stop()


def test_dashboard_settings_form_sets_both(
    web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    csrf = login(web)
    page = web.get(f"/stores/{store.id}/settings").text
    assert 'name="consent_required"' in page and 'name="honour_gpc"' in page
    form = {
        "csrf": csrf, "name": "Shop", "currency": "EUR", "timezone": "UTC", "domains": "",
        "abandon_after": "30m", "tracking_enabled": "1", "excluded_paths": "",
        "consent_required": "1", "honour_gpc": "1",
    }  # fmt: skip
    ok = web.post(f"/stores/{store.id}/settings", data=form)
    assert ok.status_code == 303, ok.text
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None and (rec.consent_required, rec.honour_gpc) == (True, True)
    page = web.get(f"/stores/{store.id}/settings").text
    assert re.search(r'name="consent_required" value="1" checked', page)
    del form["honour_gpc"]  # an unticked box is not sent
    assert web.post(f"/stores/{store.id}/settings", data=form).status_code == 303
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None and (rec.consent_required, rec.honour_gpc) == (True, False)


# --- the ingest -------------------------------------------------------------------------------


def test_a_store_that_requires_consent_records_nothing_without_it(
    server: LiveServer, http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    set_store(db, server, store.id, consent_required=True)
    before = row_counts(db)
    counted = metric(http, "no_consent")
    for body, why in (
        (envelope(), "requires the visitor's consent"),
        (envelope(consent=None), "requires the visitor's consent"),
        (envelope(consent=False), "refused consent"),
        (envelope(requestId="r-1"), "requires the visitor's consent"),
    ):
        r = post(http, store.id, body)
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        assert_refused(r.json(), why)
    # a tracker the request names is not kept, nor echoed
    named = envelope()
    named["entityInfo"]["trackerId"] = TRACKER
    assert_refused(post(http, store.id, named).json(), "requires")
    assert row_counts(db) == before, "nothing written: no request, event, contact, tracker..."
    assert metric(http, "no_consent") == counted + 10  # only counted, anonymously

    # with consent, everything works as before: a tracker, a contact, the purchase
    r = post(http, store.id, envelope(consent=True))
    answer = r.json()
    assert r.status_code == 200 and re.fullmatch(r"[0-9a-f]{24}", answer["trackerId"]), answer
    assert [x["status"] for x in answer["results"]] == ["accepted", "accepted"]
    assert answer["entityInfo"]["status"] == "accepted" and answer["cart"]["status"] == "accepted"
    assert "consent" not in answer
    after = row_counts(db)
    assert after["requests"] == before["requests"] + 1
    assert after["contacts"] == before["contacts"] + 1
    assert after["purchases"] == before["purchases"] + 1
    with db.reader() as c:
        body = c.scalar("SELECT body FROM requests WHERE store_id = ?", (store.id,))
    assert b'"consent": true' in bytes(body)  # the raw request keeps the choice it was made with


def test_error_answers_of_a_store_that_requires_consent_mint_no_tracker(
    server: LiveServer, http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    """A 4xx still carries the tracker the request named (Connectif's script keeps it), but a
    store that requires consent mints none for a request that names none."""
    bad = b'{"events": [{"type": "login"} {"type": "page-visit"}]}'
    plain = http.post(ingest_path(store.id), content=bad)
    assert plain.status_code == 400 and re.fullmatch(r"[0-9a-f]{24}", plain.json()["trackerId"])
    set_store(db, server, store.id, consent_required=True)
    r = http.post(ingest_path(store.id), content=bad)
    assert r.status_code == 400 and r.json()["trackerId"] == "", r.text
    named = b'{"entityInfo": {"trackerId": "%s"}, "events": [1 2]}' % TRACKER.encode()
    r = http.post(ingest_path(store.id), content=named)
    assert r.status_code == 400 and r.json()["trackerId"] == TRACKER


def test_a_store_without_consent_settings_answers_as_before_but_honours_an_explicit_no(
    server: LiveServer, http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    r = post(http, store.id, envelope(), **{"Sec-GPC": "1", "DNT": "1"})
    answer = r.json()
    assert r.status_code == 200 and [x["status"] for x in answer["results"]] == [
        "accepted",
        "accepted",
    ]
    assert re.fullmatch(r"[0-9a-f]{24}", answer["trackerId"]) and "consent" not in answer
    before = row_counts(db)
    # the visitor said no: even here nothing is recorded
    assert_refused(post(http, store.id, envelope(consent=False)).json(), "refused consent")
    assert row_counts(db) == before
    # `consent` must be a boolean: a clear 400 naming the field
    r = post(http, store.id, envelope(consent="yes"))
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["code"] == "invalid_envelope" and err["errors"][0]["path"] == "/consent", err
    assert re.fullmatch(r"[0-9a-f]{24}", err["trackerId"])


@pytest.mark.parametrize(
    ("header", "shown"),
    [("Sec-GPC", "Global Privacy Control (Sec-GPC: 1)"), ("DNT", "Do Not Track (DNT: 1)")],
)
def test_a_store_that_honours_privacy_signals(
    server: LiveServer,
    http: httpx.Client,
    store: StoreInfo,
    db: Database,
    header: str,
    shown: str,
) -> None:
    set_store(db, server, store.id, honour_gpc=True)
    before = row_counts(db)
    assert_refused(post(http, store.id, envelope(), **{header: "1"}).json(), shown)
    assert row_counts(db) == before
    # no signal (or not "1"): tracked as before
    for headers in ({}, {header: "0"}):
        answer = post(http, store.id, envelope(), **headers).json()
        assert answer["results"][1]["status"] == "accepted", answer
    # the visitor's consent given on the site wins over the browser-wide signal
    answer = post(http, store.id, envelope(consent=True), **{header: "1"}).json()
    assert answer["results"][1]["status"] == "accepted" and answer["trackerId"], answer


def test_connectifs_script_survives_a_refused_answer(
    server: LiveServer, http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    """Connectif's script stores `{"id": answer.trackerId}` after every answer and sends
    `stored.id || ...` next: the empty tracker is read as none, and once the store stops
    requiring consent the visitor is tracked as a new anonymous contact."""
    set_store(db, server, store.id, consent_required=True)
    stored = {"id": post(http, store.id, envelope()).json()["trackerId"]}
    set_store(db, server, store.id, consent_required=False)
    nxt = envelope()
    if stored["id"]:
        nxt["entityInfo"]["trackerId"] = stored["id"]
    answer = post(http, store.id, nxt).json()
    assert answer["entityInfo"]["status"] == "accepted"
    assert re.fullmatch(r"[0-9a-f]{24}", answer["trackerId"])


def test_cli_send_answers_as_the_endpoint(
    db_url: str, db: Database, store: StoreInfo, tmp_path: Any
) -> None:
    """`shopevents send FILE` writes directly: it refuses for consent as the endpoint does."""
    conn = db.connect()
    try:
        with conn.transaction():
            stores.update_store(conn, store.id, {"consent_required": True})
    finally:
        conn.close()
    path = tmp_path / "req.json"
    path.write_text(json.dumps(envelope()))
    before = row_counts(db)
    out = CliRunner().invoke(main, ["--database", db_url, "send", str(path), "--store", store.id])
    assert out.exit_code == 0, out.output
    assert_refused(json.loads(out.stdout), "requires the visitor's consent")
    assert row_counts(db) == before
    path.write_text(json.dumps(envelope(consent=True)))
    out = CliRunner().invoke(main, ["--database", db_url, "send", str(path), "--store", store.id])
    assert json.loads(out.stdout)["results"][0]["status"] == "accepted", out.output
