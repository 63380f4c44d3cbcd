"""Bots (docs/privacy.md#bots), over real HTTP on both backends: a crawler's or headless
browser's request is answered as anyone's, flagged (request and contact), and by default its
purchase is not in the revenue, carts, products, data-quality or sources reports (before and
after the rollups catch up), its cart is never abandoned and no outbox event (so no webhook)
comes of it; a store that keeps its bots (`keep_bots`, set by the CLI, `PATCH /api/store` and
the dashboard's form) gets everything as from a person, and the debugger shows the flag."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import SystemClock, to_micros
from shopevents.config import Settings
from shopevents.domain import carts
from shopevents.reports import rollups
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, ingest_path
from tests.dashboard.support import add_user, login, start_server

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
DAY_US = 86_400_000_000


def envelope(n: int, email: str | None = None, price: int = 20) -> dict[str, Any]:
    line = {
        "productId": f"SKU-{n}", "name": "Lamp", "productDetailUrl": "https://shop.example/p/1",
        "unitPrice": price / 2, "quantity": 2, "price": price,
    }  # fmt: skip
    body: dict[str, Any] = {
        "events": [
            {
                "type": "purchase",
                "purchase": {
                    "purchaseId": f"ORD-{n}",
                    "totalQuantity": 2,
                    "totalPrice": price,
                    "products": [line],
                },
            },
            {"type": "page-visit"},
        ],
        "cart": {
            "cartId": f"c-{n}",
            "totalQuantity": 2,
            "totalPrice": price,
            "products": [line],
        },
        "browserInfo": {"url": "https://shop.example/thanks"},
    }
    if email:
        body["entityInfo"] = {"primaryKey": email}
    return body


def cart_only(n: int, email: str | None = None) -> dict[str, Any]:
    body = envelope(n, email)
    body["events"] = [{"type": "page-visit"}]
    return body


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    server = start_server(settings, db, SystemClock())
    add_user(db)
    yield server
    server.stop()


@pytest.fixture
def web(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def post(web: httpx.Client, store: StoreInfo, body: dict[str, Any], ua: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if ua is not None:
        headers["User-Agent"] = ua
    r = web.post(ingest_path(store.id), content=json.dumps(body), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def revenue(web: httpx.Client, store: StoreInfo) -> dict[str, Any]:
    r = web.get("/api/reports/revenue", headers=store.auth)
    assert r.status_code == 200, r.text
    return r.json()["totals"]  # type: ignore[no-any-return]


def report(web: httpx.Client, store: StoreInfo, name: str) -> dict[str, Any]:
    r = web.get(f"/api/reports/{name}", headers=store.auth)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def outbox_topics(db: Database, store_id: str) -> list[str]:
    with db.reader() as c:
        return sorted(
            r[0] for r in c.all("SELECT topic FROM outbox WHERE store_id = ?", (store_id,))
        )


def abandon_all(db: Database) -> int:
    conn = db.connect()
    try:
        with conn.transaction():
            return carts.mark_due_abandoned(conn, to_micros(SystemClock().now()) + DAY_US, 500)
    finally:
        conn.close()


def catch_up(db: Database, store_id: str) -> None:
    conn = db.connect()
    try:
        rollups.catch_up(conn, store_id, "UTC", to_micros(SystemClock().now()) + DAY_US)
    finally:
        conn.close()


def set_store(db: Database, live: LiveServer, store_id: str, **changes: Any) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            stores.update_store(conn, store_id, changes)
    finally:
        conn.close()
    live.ctx.forget_store(store_id)


def contact_bot_flags(db: Database, store_id: str) -> dict[str, int]:
    with db.reader() as c:
        return {
            str(r[0]): int(r[1])
            for r in c.all(
                "SELECT COALESCE(email, id), bot FROM contacts WHERE store_id = ?", (store_id,)
            )
        }


def test_a_bots_purchase_cart_and_events_are_left_out_by_default(
    live: LiveServer, web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    person = post(web, store, envelope(1, "jane@example.com", 20), CHROME)
    crawler = post(web, store, envelope(2, "crawler@example.com", 500), GOOGLEBOT)
    headless = post(web, store, cart_only(3), HEADLESS)
    nobody = post(web, store, cart_only(4), "")  # an empty User-Agent: none
    # Answered as anyone's: the crawler sees no difference.
    assert [r["status"] for r in crawler["results"]] == [r["status"] for r in person["results"]]
    assert crawler["cart"]["outcome"] == person["cart"]["outcome"] == "created"
    assert headless["trackerId"] and nobody["trackerId"]

    for rolled in (False, True):  # from the base tables, then from the rollups
        if rolled:
            catch_up(db, store.id)
        totals = revenue(web, store)
        assert (totals["orders"], totals["grossRevenue"]) == (1, 20), totals
        products = report(web, store, "products")
        assert [p["productId"] for p in products["byRevenue"]] == ["SKU-1"], products
        cart_totals = report(web, store, "carts")["totals"]
        assert cart_totals["created"] == 1, cart_totals
        quality = report(web, store, "data-quality")["totals"]
        assert quality["accepted"] == 2, quality  # the person's purchase and page visit
        sources = report(web, store, "sources")["totals"]
        assert (sources["orders"], sources["carts"], sources["visits"]) == (1, 1, 1), sources

    with db.reader() as c:
        flagged = dict(c.all("SELECT reason, COUNT(*) FROM bot_requests GROUP BY reason"))
    assert flagged == {"crawler": 1, "headless": 1, "no_user_agent": 1}
    flags = contact_bot_flags(db, store.id)
    assert flags["jane@example.com"] == 0 and flags["crawler@example.com"] == 1
    assert sum(flags.values()) == 3

    # No outbox event of a bot's (so no webhook); its carts are never abandoned.
    assert outbox_topics(db, store.id) == ["contact.created", "purchase.created"]
    assert abandon_all(db) == 1  # the person's cart (sent after the purchase), not the bots'
    with db.reader() as c:
        states = dict(c.all("SELECT cart_id, state FROM carts WHERE store_id = ?", (store.id,)))
    assert states == {"c-1": "abandoned", "c-2": "active", "c-3": "active", "c-4": "active"}
    assert outbox_topics(db, store.id) == ["cart.abandoned", "contact.created", "purchase.created"]


def test_a_person_identifying_a_bots_contact_clears_its_flag(
    web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    post(web, store, cart_only(1, "sam@example.com"), HEADLESS)
    assert contact_bot_flags(db, store.id) == {"sam@example.com": 1}
    post(web, store, {"events": [], "entityInfo": {"primaryKey": "sam@example.com"}}, CHROME)
    assert contact_bot_flags(db, store.id) == {"sam@example.com": 0}
    # What the bot did before stays out of the figures: a request's flag never changes.
    assert report(web, store, "carts")["totals"]["created"] == 0


def test_a_store_that_keeps_bots_counts_them_and_the_debugger_flags_them(
    live: LiveServer, web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    set_store(db, live, store.id, keep_bots=True)
    post(web, store, envelope(1, "crawler@example.com", 500), GOOGLEBOT)
    post(web, store, cart_only(2), HEADLESS)
    for rolled in (False, True):
        if rolled:
            catch_up(db, store.id)
        totals = revenue(web, store)
        assert (totals["orders"], totals["grossRevenue"]) == (1, 500), totals
        assert report(web, store, "carts")["totals"]["created"] == 2
        sources = report(web, store, "sources")["totals"]
        assert (sources["orders"], sources["carts"], sources["visits"]) == (1, 2, 2), sources
    assert "purchase.created" in outbox_topics(db, store.id)
    assert abandon_all(db) == 2  # both bots' carts, as anyone's
    assert "cart.abandoned" in outbox_topics(db, store.id)

    login(web)
    page = web.get(f"/stores/{store.id}/debugger").text
    assert page.count('<span class="badge warn" title="A bot\'s request (') == 2
    assert "left out of reports" not in page  # kept
    with db.reader() as c:
        rid = c.scalar("SELECT MIN(id) FROM bot_requests WHERE store_id = ?", (store.id,))
    detail = web.get(f"/stores/{store.id}/debugger/requests/{rid}").text
    assert "bot: crawler" in detail and "kept (the store keeps bots)" in detail


def test_the_debugger_flags_a_left_out_bot_and_not_a_person(
    live: LiveServer, web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    post(web, store, cart_only(1), CHROME)
    post(web, store, cart_only(2), HEADLESS)
    login(web)
    page = web.get(f"/stores/{store.id}/debugger").text
    assert page.count("left out of reports, abandonment and webhooks") == 1
    with db.reader() as c:
        ids = [
            r[0]
            for r in c.all("SELECT id FROM requests WHERE store_id = ? ORDER BY id", (store.id,))
        ]
    person = web.get(f"/stores/{store.id}/debugger/requests/{ids[0]}").text
    bot = web.get(f"/stores/{store.id}/debugger/requests/{ids[1]}").text
    assert "bot:" not in person
    assert "bot: headless" in bot and "left out of reports, abandonment and webhooks" in bot


# --- the setting: one rule for REST, the CLI and the dashboard --------------------------------


def test_keep_bots_through_rest_cli_and_dashboard(
    db_url: str, live: LiveServer, web: httpx.Client, store: StoreInfo, db: Database
) -> None:
    assert web.get("/api/store", headers=store.auth).json()["keepBots"] is False
    r = web.patch("/api/store", headers=store.auth, json={"keepBots": True})
    assert r.status_code == 200 and r.json()["keepBots"] is True, r.text
    for bad in ("yes", 1, None):
        r = web.patch("/api/store", headers=store.auth, json={"keepBots": bad})
        assert r.status_code == 422, r.text
        err = r.json()["validationErrors"][0]
        assert err["path"] == "/keepBots" and "Expected true or false" in err["reason"], err

    cli = CliRunner()
    args = ["--database", db_url, "stores", "update", store.id]
    off = cli.invoke(main, [*args, "--keep-bots", "off", "--json"])
    assert off.exit_code == 0 and json.loads(off.stdout)["keepBots"] is False, off.output
    bad = cli.invoke(main, [*args, "--keep-bots", "maybe"])
    assert bad.exit_code == 2 and "--keep-bots" in bad.output and "Traceback" not in bad.output
    live.ctx.forget_store(store.id)

    csrf = login(web)
    form = {
        "csrf": csrf, "name": "Shop", "currency": "EUR", "timezone": "UTC", "domains": "",
        "abandon_after": "30m", "tracking_enabled": "1", "excluded_paths": "", "keep_bots": "1",
    }  # fmt: skip
    assert web.post(f"/stores/{store.id}/settings", data=form).status_code == 303
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None and rec.keep_bots is True
    page = web.get(f"/stores/{store.id}/settings").text
    assert re.search(r'name="keep_bots" value="1" checked', page)
    del form["keep_bots"]  # an unticked box is not sent
    assert web.post(f"/stores/{store.id}/settings", data=form).status_code == 303
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None and rec.keep_bots is False
