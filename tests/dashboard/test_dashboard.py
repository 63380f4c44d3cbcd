"""The dashboard over real HTTP, on both backends: login, sessions, CSRF, every page, store
text shown as text, settings and API keys, merges, store switching, quarantine replay."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from shopevents.clock import FixedClock
from shopevents.config import IngestSettings, Settings
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, make_store
from tests.dashboard.support import (
    PASSWORD,
    XSS,
    add_user,
    cart,
    csrf_of,
    login,
    owner_hooks,
    product,
    purchase_event,
    send,
    start_server,
)

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, FixedClock(NOW))
    yield srv
    srv.stop()


@pytest.fixture
def web(live: LiveServer, db: Database) -> Iterator[httpx.Client]:
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30, event_hooks=owner_hooks(db)) as client:
        yield client


def page(client: httpx.Client, path: str, status: int = 200) -> str:
    r = client.get(path)
    assert r.status_code == status, f"{path}: {r.status_code} {r.text[:500]}"
    if status == 200:
        assert "Content-Security-Policy" in r.headers
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert XSS not in r.text, f"{path} shows store text as HTML"
    return r.text


def test_login_is_required_and_sessions_work(web: httpx.Client, store: StoreInfo) -> None:
    r = web.get(f"/stores/{store.id}/contacts?q=x")
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fstores%2F{store.id}%2Fcontacts%3Fq%3Dx"
    assert web.get(f"/stores/{store.id}/debugger/requests.json").status_code == 401
    form = web.get("/login")
    assert form.status_code == 200 and "No account exists yet" not in form.text
    token = csrf_of(form.text)
    bad = web.post(
        "/login", data={"csrf": token, "username": "admin", "password": "wrong password"}
    )
    assert bad.status_code == 401 and "do not match" in bad.text
    nocsrf = web.post("/login", data={"username": "admin", "password": PASSWORD})
    assert nocsrf.status_code == 403 and "csrf_failed" in nocsrf.text
    ok = web.post(
        "/login",
        data={
            "csrf": token,
            "username": "admin",
            "password": PASSWORD,
            "next": f"/stores/{store.id}/carts",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/stores/{store.id}/carts"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
    assert web.get("/").headers["location"] == f"/stores/{store.id}/"
    assert web.get("/login").status_code == 303  # logged in already
    # An open redirect through `next` is refused.
    web.cookies.clear()
    token = csrf_of(web.get("/login").text)
    r = web.post(
        "/login",
        data={"csrf": token, "username": "admin", "password": PASSWORD, "next": "//evil.example/"},
    )
    assert r.headers["location"] == "/"
    csrf = csrf_of(web.get(f"/stores/{store.id}/", follow_redirects=True).text)
    assert web.post("/logout", data={}).status_code == 403
    out = web.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.get(f"/stores/{store.id}/").status_code == 303


def test_failed_logins_are_throttled(web: httpx.Client) -> None:
    token = csrf_of(web.get("/login").text)
    codes = [
        web.post(
            "/login", data={"csrf": token, "username": "admin", "password": f"nope{i}"}
        ).status_code
        for i in range(9)
    ]
    assert codes[:8] == [401] * 8 and codes[8] == 429
    blocked = web.post("/login", data={"csrf": token, "username": "admin", "password": PASSWORD})
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text


MUG = product("mug-1", "Enamel mug", "12.50")
EVIL = product("evil-1", XSS, "3.00")


def seed(web: httpx.Client, store_id: str) -> dict[str, Any]:
    """A small store: a contact with an XSS name, products (one named like an XSS), carts,
    purchases with a duplicate and a conflict, a merge, warnings and rejections."""
    first = send(
        web, store_id, [{"type": "page-visit"}, {"type": "product-visited", "product": EVIL}]
    )
    tracker = first["trackerId"]
    send(web, store_id, [{"type": "search", "searchText": XSS}], tracker=tracker)
    send(
        web,
        store_id,
        [{"type": "page-visit"}],
        tracker=tracker,
        cart_obj=cart("cart-1", [(MUG, 2), (EVIL, 1)]),
    )
    body = {
        "events": [{"type": "register"}],
        "entityInfo": {
            "trackerId": tracker,
            "primaryKey": "jane@example.com",
            "_name": XSS,
            "_surname": "Doe",
            "favourite": XSS,
        },
    }
    r = web.post(
        f"/integration-type/system/scrippet-notification/{store_id}",
        content=msgspec.json.encode(body),
    )
    assert r.status_code == 200
    buy = purchase_event(
        "ORD-1",
        [(MUG, 2), (EVIL, 1)],
        date="2026-04-14T10:00:00Z",
        cart_id="cart-1",
        source_type="digital-store",
        source_name=XSS,
        payment=XSS,
    )
    send(web, store_id, [buy], tracker=tracker, email="jane@example.com")
    send(web, store_id, [buy], tracker=tracker, email="jane@example.com")  # a reload: duplicate
    changed = purchase_event("ORD-1", [(MUG, 1)], date="2026-04-14T10:00:00Z", cart_id="cart-1")
    send(web, store_id, [changed], email="jane@example.com")  # conflict
    send(web, store_id, [{"type": "page-visit"}, {"type": "wish", "productId": XSS}])  # rejected
    # Jane on another device: the anonymous contact is merged into hers.
    other = send(web, store_id, [{"type": "page-visit"}])["trackerId"]
    send(web, store_id, [{"type": "login"}], tracker=other, email="jane@example.com")
    return {"tracker": tracker}


def test_every_page_renders_and_shows_store_text_as_text(
    web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    seed(web, store.id)
    login(web)
    base = f"/stores/{store.id}"
    html = page(web, base + "/?from=2026-04-01&to=2026-04-15&interval=day&groupBy=source_name")
    assert "Revenue per day" in html and "€28.00" in html
    assert ESCAPED in html  # the product and source name, in the SVG and the tables
    assert "<svg" in html and "Show the numbers" in html
    assert "processing-lag" not in html  # applied as it arrives: no lag to show
    for interval in ("week", "month"):
        page(web, base + f"/?interval={interval}&groupBy=payment_method")
    bad = page(web, base + "/?from=soon")
    assert "Showing the last 30 days" in bad

    contacts = page(web, base + "/contacts")
    assert "jane@example.com" in contacts
    assert "jane@example.com" in page(web, base + "/contacts?q=JANE@")
    assert "jane@example.com" in page(web, base + "/contacts?q=Doe")
    assert "No contact matches" in page(web, base + "/contacts?q=nobody-here")
    cid = re.search(r'/contacts/([0-9a-f]{24})">jane@example.com', contacts).group(1)  # type: ignore[union-attr]
    sheet = page(web, base + f"/contacts/{cid}")
    for text in (
        "Activity",
        "Trackers",
        "Merges",
        "ORD-1",
        "Added to cart",
        "Purchased",
        ESCAPED,
        "favourite",
        "Undo",
    ):
        assert text in sheet, text
    page(web, base + "/contacts/000000000000000000000000", 404)

    catalog = page(web, base + "/catalog")
    assert ESCAPED in catalog and "Enamel mug" in catalog
    assert "Enamel mug" in page(web, base + "/catalog?q=enamel")
    assert ESCAPED in page(web, base + "/catalog/evil-1")
    page(web, base + "/catalog/nope", 404)

    carts = page(web, base + "/carts")
    assert "cart-1" in carts
    assert "cart-1" in page(web, base + "/carts?state=purchased")
    assert "No abandoned carts" in page(web, base + "/carts?state=abandoned")
    key = re.search(r'/carts/(\d+)">cart-1', carts).group(1)  # type: ignore[union-attr]
    one = page(web, base + f"/carts/{key}")
    assert "first snapshot with items" in one and "purchase ORD-1" in one and ESCAPED in one

    purchases = page(web, base + "/purchases")
    assert "ORD-1" in purchases
    assert web.get(base + "/purchases?q=ORD-1").headers["location"] == base + "/purchases/ORD-1"
    assert "No purchase id contains" in page(web, base + "/purchases?q=zzz")
    detail = page(web, base + "/purchases/ORD-1")
    assert "Received 3 times" in detail and "Conflict 1 (not counted)" in detail
    assert 'class="diff"' in detail and ESCAPED in detail
    repeats = page(web, base + "/purchases?view=repeats")
    assert "duplicate" in repeats and "conflict" in repeats
    page(web, base + "/purchases/nope", 404)

    debugger = page(web, base + "/debugger")
    assert "wish: rejected" in debugger and "Events received per hour" in debugger
    items = web.get(base + "/debugger/requests.json").json()["items"]
    assert len(items) >= 9 and items[0]["id"] > items[-1]["id"]
    newest = items[0]["id"]
    assert web.get(base + f"/debugger/requests.json?after={newest}").json()["items"] == []
    send(web, store.id, [{"type": "page-visit"}])
    fresh = web.get(base + f"/debugger/requests.json?after={newest}").json()["items"]
    assert [i["results"][0]["status"] for i in fresh] == ["accepted"]
    rejected = next(i for i in items if i["rejected"])
    req = page(web, base + f"/debugger/requests/{rejected['id']}")
    assert "unknown_type" in req and "Raw body" in req and ESCAPED in req
    as_json = web.get(base + f"/debugger/requests/{rejected['id']}.json").json()
    assert XSS in as_json["body"] and as_json["quarantined"][0]["code"] == "unknown_type"
    page(web, base + "/debugger/requests/999999", 404)

    quarantine = page(web, base + "/quarantine")
    assert "unknown_type" in quarantine and ESCAPED in quarantine
    assert "unknown_type" in page(web, base + "/quarantine?code=unknown_type&status=all")
    assert "Nothing waiting here" in page(web, base + "/quarantine?code=too_large")

    settings = page(web, base + "/settings")
    assert "__cn_generic_script__" in settings and "API keys" in settings and "Webhooks" in settings
    page(web, "/stores/no-such-store/", 404)


def test_settings_api_keys_and_webhooks(web: httpx.Client, store: StoreInfo, db: Database) -> None:
    csrf = login(web)
    base = f"/stores/{store.id}"
    form = {
        "csrf": csrf, "name": "Renamed shop", "currency": "usd", "timezone": "Mars/Olympus",
        "domains": "shop.example\nwww.shop.example", "abandon_after": "45m", "tag_mode": "1",
        "tracking_enabled": "1", "excluded_paths": "^/account",
    }  # fmt: skip
    bad = web.post(base + "/settings", data=form)
    assert bad.status_code == 422 and "Time zone: Expected an IANA time zone" in bad.text
    assert "Renamed shop" in bad.text  # what was typed is kept
    ok = web.post(base + "/settings", data={**form, "timezone": "Europe/Madrid"})
    assert ok.status_code == 303
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None
    assert (rec.name, rec.currency, rec.timezone, rec.abandon_after_seconds) == (
        "Renamed shop",
        "USD",
        "Europe/Madrid",
        2700,
    )
    assert (
        rec.domains == ["shop.example", "www.shop.example"]
        and rec.tag_mode
        and rec.excluded_paths == ["^/account"]
    )
    assert "Settings saved." in web.get(ok.headers["location"]).text
    assert web.post(base + "/settings", data={**form, "csrf": "forged"}).status_code == 403

    created = web.post(base + "/keys", data={"csrf": csrf, "name": "erp"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    key = re.search(r'id="new-key">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    key_id = key.split(":")[0]
    auth = {"Authorization": f"apiKey {key}"}
    assert web.get("/api/store", headers=auth).status_code == 200
    assert key.split(":")[1] not in web.get(base + "/settings").text  # shown once
    assert web.post(base + f"/keys/{key_id}/revoke", data={"csrf": csrf}).status_code == 303
    # refused from the very next request on, by every key-authenticated surface
    assert web.get("/api/store", headers=auth).status_code == 401
    assert web.get("/api/reports/carts", headers=auth).status_code == 401
    assert "revoked" in web.get(base + "/settings").text

    hook = web.post(
        base + "/webhooks", data={"csrf": csrf, "url": "ftp://nope", "topics": "purchase.created"}
    )
    assert hook.status_code == 422
    made = web.post(
        base + "/webhooks",
        data={
            "csrf": csrf,
            "url": "https://erp.example.com/orders-in",
            "topics": ["purchase.created", "cart.abandoned"],
        },
    )
    assert made.status_code == 200 and "Signing secret" in made.text
    eid = re.search(r"Signing secret of (whe_[0-9a-f]+)", made.text).group(1)  # type: ignore[union-attr]
    assert (
        web.post(base + f"/webhooks/{eid}", data={"csrf": csrf, "action": "pause"}).status_code
        == 303
    )
    assert "paused" in web.get(base + "/settings").text
    assert (
        web.post(base + f"/webhooks/{eid}", data={"csrf": csrf, "action": "remove"}).status_code
        == 303
    )
    assert "erp.example.com/orders-in" not in web.get(base + "/settings").text


def test_undo_a_merge_from_the_contact_sheet(web: httpx.Client, store: StoreInfo) -> None:
    send(web, store.id, [{"type": "login"}], email="sam@example.com")
    anon = send(web, store.id, [{"type": "page-visit"}])["trackerId"]
    send(web, store.id, [{"type": "login"}], tracker=anon, email="sam@example.com")
    csrf = login(web)
    base = f"/stores/{store.id}"
    listing = web.get(base + "/contacts?q=sam@").text
    cid = re.search(r'/contacts/([0-9a-f]{24})">sam@example.com', listing).group(1)  # type: ignore[union-attr]
    sheet = web.get(base + f"/contacts/{cid}").text
    merge = re.search(r"/merges/(\d+)/undo", sheet).group(1)  # type: ignore[union-attr]
    r = web.post(
        base + f"/merges/{merge}/undo", data={"csrf": csrf, "back": base + f"/contacts/{cid}"}
    )
    assert r.status_code == 303 and r.headers["location"] == base + f"/contacts/{cid}"
    after = web.get(r.headers["location"]).text
    assert f"Merge {merge} undone" in after and "undone" in after
    again = web.post(base + f"/merges/{merge}/undo", data={"csrf": csrf})
    assert "cannot be undone" in web.get(again.headers["location"]).text


def test_switch_between_stores(web: httpx.Client, store: StoreInfo, db: Database) -> None:
    other = make_store(db, "Second shop")
    login(web)
    first = web.get(f"/stores/{store.id}/carts").text
    assert "Second shop" in first and 'name="store"' in first
    r = web.get("/switch-store", params={"store": other.id, "section": "carts"})
    assert r.headers["location"] == f"/stores/{other.id}/carts"
    web.get(r.headers["location"])
    assert web.get("/").headers["location"] == f"/stores/{other.id}/"
    assert web.get("/switch-store", params={"store": "nope"}).headers["location"] == "/"


def test_welcome_page_creates_the_first_store(live: LiveServer, db: Database) -> None:
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30, event_hooks=owner_hooks(db)) as web:
        # (no store yet: logging in lands on the welcome page)
        token = csrf_of(web.get("/login").text)
        web.post("/login", data={"csrf": token, "username": "admin", "password": PASSWORD})
        welcome = web.get("/")
        assert welcome.status_code == 200 and "Create a store" in welcome.text
        csrf = csrf_of(welcome.text)
        bad = web.post("/stores", data={"csrf": csrf, "name": "My shop", "currency": "EURO"})
        assert bad.status_code == 422 and "Currency" in bad.text
        made = web.post(
            "/stores",
            data={"csrf": csrf, "name": "My shop", "currency": "GBP", "timezone": "Europe/London"},
        )
        assert (
            made.status_code == 200
            and "new API key" in made.text
            and "__cn_generic_script__" in made.text
        )
        assert web.get("/").headers["location"].startswith("/stores/")


def test_replay_quarantined_events_after_a_rule_change(db: Database, store: StoreInfo) -> None:
    add_user(db)
    small = Settings(
        worker=Settings().worker.__class__(enabled=False),
        ingest=IngestSettings(max_event_bytes=700),
    )
    big_mug = {**MUG, "description": "x" * 800}
    first = start_server(small, db, FixedClock(NOW))
    try:
        with httpx.Client(base_url=first.url, timeout=30, event_hooks=owner_hooks(db)) as c:
            out = send(
                c,
                store.id,
                [
                    purchase_event("BIG-1", [(big_mug, 1)], date="2026-04-14T09:00:00Z"),
                    {"type": "nope"},
                ],
                email="kim@example.com",
            )
            assert [r["status"] for r in out["results"]] == ["rejected", "rejected"]
            assert out["results"][0]["code"] == "too_large"
    finally:
        first.stop()
    # The limit is raised (the default): the purchase now passes, the unknown type does not.
    second = start_server(
        Settings(worker=Settings().worker.__class__(enabled=False)), db, FixedClock(NOW)
    )
    try:
        with httpx.Client(base_url=second.url, timeout=30, event_hooks=owner_hooks(db)) as web:
            csrf = login(web)
            base = f"/stores/{store.id}"
            listing = web.get(base + "/quarantine").text
            ids = re.findall(r'name="id" value="(\d+)"', listing)
            assert len(ids) == 2
            r = web.post(
                base + "/quarantine/replay", data={"csrf": csrf, "id": ids, "selected": "1"}
            )
            assert r.status_code == 303
            after = web.get(r.headers["location"]).text
            assert "1 replayed and accepted" in after and "1 still rejected" in after
            assert "BIG-1" in web.get(base + "/purchases").text
            everything = web.get(base + "/quarantine?status=all").text
            assert "accepted" in everything and "unknown_type" in everything
            assert (
                len(re.findall(r'name="id" value="(\d+)"', web.get(base + "/quarantine").text)) == 1
            )
            again = web.post(base + "/quarantine/replay", data={"csrf": csrf, "id": ids})
            assert "1 replayed before" in web.get(again.headers["location"]).text
            sheet_contacts = web.get(base + "/contacts?q=kim@").text
            assert "kim@example.com" in sheet_contacts  # the replay landed on the same contact
            with db.reader() as c:
                owner = c.scalar("SELECT contact_id FROM purchases WHERE purchase_id = 'BIG-1'")
                assert (
                    c.scalar("SELECT email FROM contacts WHERE id = ?", (owner,))
                    == "kim@example.com"
                )
    finally:
        second.stop()
