"""Traffic sources through real HTTP on both backends: page visits classified from what the
client script sends (pageInfo, browserInfo, the URL's utm_*), first and last touch of
purchases and carts in `GET /api/reports/sources`, the CLI and the dashboard; and a
tracker's lastSeen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import FixedClock
from shopevents.config import Settings
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, ingest_path
from tests.dashboard.support import (
    add_user,
    cart,
    login,
    product,
    purchase_event,
    start_server,
)

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
MUG = product("mug", "Mug", "9.95")
LAMP = product("lamp", "Lamp", "24.50")
_EXACT = msgspec.json.Decoder(float_hook=Decimal)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def live(settings: Settings, db: Database, clock: FixedClock) -> Iterator[LiveServer]:
    srv = start_server(settings, db, clock)
    yield srv
    srv.stop()


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def visit(
    api: httpx.Client,
    store_id: str,
    tracker: str,
    url: str,
    referrer: str = "",
    *,
    device: str = "desktop",
    events: list[dict[str, Any]] | None = None,
    email: str | None = None,
    cart_obj: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One request as Connectif's script sends it: events ending with a page-visit, and the
    page's pageInfo and browserInfo (with its URL percent-encoded)."""
    entity: dict[str, Any] = {"trackerId": tracker}
    if email:
        entity["primaryKey"] = email
    body: dict[str, Any] = {
        "events": [*(events or []), {"type": "page-visit"}],
        "entityInfo": entity,
        "pageInfo": {
            "categories": ["/Home/Kitchen"],
            "title": "Kitchen | Shop",
            "keywords": ["kitchen", " mugs "],
            "tags": ["sale"],
        },
        "browserInfo": {
            "windowWidth": 1280,
            "windowHeight": 800,
            "screenHeight": 1080,
            "screenWidth": 1920,
            "colorDepth": 24,
            "cookieEnabled": True,
            "language": "es-ES",
            "platform": "Win32",
            "url": quote(url, safe=""),
            "referer": referrer,
            "device": device,
        },
    }
    if cart_obj is not None:
        body["cart"] = cart_obj
    r = api.post(
        ingest_path(store_id),
        content=msgspec.json.encode(body),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert all(x["status"] in ("accepted", "duplicate") for x in out["results"]), out
    return out


def report(api: httpx.Client, store: StoreInfo, name: str = "sources", **q: str) -> Any:
    r = api.get(
        f"/api/reports/{name}",
        params={"from": "2026-04-01", "to": "2026-04-30", **q},
        headers=store.auth,
    )
    assert r.status_code == 200, r.text
    return _EXACT.decode(r.content)


def by(rows: list[dict[str, Any]], key: str = "source") -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_visits_are_classified_and_kept_compactly(
    api: httpx.Client, store: StoreInfo, db: Database
) -> None:
    shop = "https://shop.example"
    visit(api, store.id, "t-search", f"{shop}/c/kitchen", "https://www.google.es/", device="mobile")
    visit(api, store.id, "t-social", f"{shop}/p/mug", "https://t.co/abc123")
    visit(
        api,
        store.id,
        "t-mail",
        f"{shop}/?utm_source=newsletter&utm_medium=email&utm_campaign=april",
        "https://mail.google.com/",
    )
    visit(
        api,
        store.id,
        "t-camp",
        f"{shop}/p/lamp?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=lamps",
        "https://www.google.com/",
    )
    visit(api, store.id, "t-direct", f"{shop}/", "")
    visit(api, store.id, "t-direct", f"{shop}/p/mug", f"{shop}/")  # a page of the same visit
    visit(api, store.id, "t-ref", f"{shop}/", "https://blog.example.org/best-mugs")

    data = report(api, store)
    assert {r["source"]: r["visits"] for r in data["visits"]} == {
        "search": 1,
        "social": 1,
        "email": 1,
        "campaign": 1,
        "direct": 1,
        "internal": 1,
        "referral": 1,
    }
    assert {r["device"]: r["visits"] for r in data["visitsByDevice"]} == {"desktop": 6, "mobile": 1}
    assert data["totals"]["visits"] == 7

    conn = db.connect()
    try:
        rows = conn.all(
            "SELECT source, name, medium, campaign, device, info FROM visits ORDER BY id"
        )
    finally:
        conn.close()
    kept = [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    assert kept == [
        ("search", "google", None, None, "mobile"),
        ("social", "t", None, None, "desktop"),
        ("email", "newsletter", "email", "april", "desktop"),
        ("campaign", "google", "cpc", "spring", "desktop"),
        ("direct", None, None, None, "desktop"),
        ("internal", None, None, None, "desktop"),
        ("referral", "blog.example.org", None, None, "desktop"),
    ]
    campaign_info = msgspec.json.decode(rows[3][5])
    assert campaign_info == {
        "language": "es-ES",
        "platform": "Win32",
        "screen": "1920x1080",
        "referrer": "https://www.google.com/",
        "title": "Kitchen | Shop",
        "categories": ["/Home/Kitchen"],
        "keywords": ["kitchen", "mugs"],
        "tags": ["sale"],
        "term": "lamps",
    }
    assert "referrer" not in msgspec.json.decode(rows[5][5])  # internal: not kept


def test_first_and_last_touch_of_purchases_and_carts(
    api: httpx.Client, store: StoreInfo, clock: FixedClock
) -> None:
    shop = "https://shop.example"
    # Ana: a campaign visit (anonymous), then a direct return with a cart, then she buys.
    visit(api, store.id, "t-ana", f"{shop}/?utm_source=fb&utm_medium=paid&utm_campaign=spring")
    clock.advance(timedelta(hours=2))
    visit(api, store.id, "t-ana", f"{shop}/cart", "", cart_obj=cart("c-ana", [(MUG, 2)]))
    clock.advance(timedelta(minutes=5))
    visit(
        api,
        store.id,
        "t-ana",
        f"{shop}/thanks",
        f"{shop}/checkout",
        email="ana@example.com",
        events=[purchase_event("o-ana", [(MUG, 2)], date="2026-04-15T14:05:00Z")],
    )
    # Ben: search first, then a newsletter e-mail, then direct: he buys on his phone.
    clock.advance(timedelta(minutes=1))
    visit(api, store.id, "t-ben", f"{shop}/", "https://duckduckgo.com/")
    clock.advance(timedelta(days=1))
    visit(api, store.id, "t-ben", f"{shop}/?utm_source=news&utm_medium=email&utm_campaign=may")
    clock.advance(timedelta(hours=1))
    visit(
        api,
        store.id,
        "t-ben",
        f"{shop}/thanks",
        "",
        device="mobile",
        email="ben@example.com",
        events=[purchase_event("o-ben", [(LAMP, 1)], date="2026-04-16T13:06:00Z")],
    )
    # Cy: only direct visits.
    visit(
        api,
        store.id,
        "t-cy",
        f"{shop}/thanks",
        "",
        email="cy@example.com",
        events=[purchase_event("o-cy", [(MUG, 1)], date="2026-04-16T13:06:00Z")],
    )
    # A purchase through the REST API by a contact with no visit.
    r = api.post(
        "/api/purchases",
        content=msgspec.json.encode(
            {
                "purchaseId": "o-pos",
                "contactEmail": "dee@example.com",
                "purchaseDate": "2026-04-16T10:00:00Z",
                "totalQuantity": 1,
                "totalPrice": 24.5,
                "products": [{**LAMP, "quantity": 1, "price": Decimal("24.50")}],
            }
        ),
        headers={**store.auth, "Content-Type": "application/json"},
    )
    assert r.status_code in (200, 201), r.text

    data = report(api, store)
    first, last = by(data["firstTouch"]), by(data["lastTouch"])
    # Ana: first touch campaign, last touch campaign (her direct return does not override it)
    assert first["campaign"]["orders"] == 1 and first["campaign"]["grossRevenue"] == Decimal("19.9")
    assert last["campaign"]["orders"] == 1 and last["campaign"]["grossRevenue"] == Decimal("19.9")
    assert first["campaign"]["carts"] == 1 and last["campaign"]["carts"] == 1
    # Ben: first touch search, last touch e-mail
    assert first["search"]["orders"] == 1 and first["search"]["grossRevenue"] == Decimal("24.5")
    assert last["email"]["orders"] == 1 and last["email"]["grossRevenue"] == Decimal("24.5")
    assert "search" not in last and "email" not in first
    # Cy: direct; the REST purchase: no visit at all
    assert first["direct"]["orders"] == last["direct"]["orders"] == 1
    assert first["unattributed"]["orders"] == last["unattributed"]["orders"] == 1
    # the device of the visit before the purchase
    devices = by(data["devices"], "device")
    assert devices["mobile"]["orders"] == 1
    assert devices["desktop"]["orders"] == 2
    assert devices["unknown"]["orders"] == 1
    campaigns = {(c["source"], c["campaign"]): c["orders"] for c in data["campaigns"]}
    assert campaigns == {("campaign", "spring"): 1, ("email", "may"): 1}
    # the figures of docs/reports.md's worked example
    assert data["totals"]["orders"] == 4
    assert data["totals"]["grossRevenue"] == Decimal("78.85")
    assert data["totals"]["carts"] == 1
    assert data["totals"]["visits"] == 7
    assert devices["desktop"]["grossRevenue"] == Decimal("29.85")
    assert {r["device"]: r["visits"] for r in data["visitsByDevice"]} == {"desktop": 6, "mobile": 1}
    assert by(data["visits"])["direct"]["visits"] == 3


def test_totals_are_the_revenue_reports(
    api: httpx.Client, store: StoreInfo, clock: FixedClock
) -> None:
    shop = "https://shop.example"
    for i, ref in enumerate(["https://www.bing.com/", "", "https://www.instagram.com/"]):
        visit(
            api,
            store.id,
            f"t-{i}",
            f"{shop}/thanks",
            ref,
            email=f"c{i}@example.com",
            events=[
                purchase_event(f"o-{i}", [(MUG, i + 1), (LAMP, 1)], date=f"2026-04-1{i}T09:00:00Z")
            ],
        )
        clock.advance(timedelta(minutes=3))
    # one in another currency (no rate loaded: left out of both, listed apart)
    visit(
        api,
        store.id,
        "t-usd",
        f"{shop}/thanks",
        "",
        email="usd@example.com",
        events=[purchase_event("o-usd", [(MUG, 1)], date="2026-04-12T09:00:00Z", currency="USD")],
    )
    r = api.post(
        "/api/purchases/purchase-id/o-1/refunds",
        content=msgspec.json.encode(
            {"refundId": "r1", "refundedAt": "2026-04-20T10:00:00Z", "amount": 5}
        ),
        headers={**store.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text

    src = report(api, store)
    rev = report(api, store, "revenue")
    for key in ("orders", "grossRevenue", "refunded", "netRevenue", "averageOrderValue"):
        assert src["totals"][key] == rev["totals"][key], key
    assert src["otherCurrencies"] == rev["otherCurrencies"]
    assert src["missingRates"] == rev["missingRates"]
    for split in ("firstTouch", "lastTouch", "devices"):
        assert sum(r["netRevenue"] for r in src[split]) == rev["totals"]["netRevenue"]
    assert by(src["lastTouch"])["direct"]["refunded"] == Decimal(5)
    eur = report(api, store, currency="USD")
    assert eur["totals"]["orders"] == 1 and eur["currency"] == "USD"


def test_a_trackers_last_seen_moves(api: httpx.Client, store: StoreInfo, clock: FixedClock) -> None:
    visit(api, store.id, "t-seen", "https://shop.example/", email="seen@example.com")
    clock.advance(timedelta(minutes=10))
    visit(api, store.id, "t-seen", "https://shop.example/p/mug")
    r = api.get("/api/contacts/seen@example.com", headers=store.auth)
    assert r.status_code == 200, r.text
    (tracker,) = r.json()["trackers"]
    assert tracker["firstSeen"].startswith("2026-04-15T12:00:00")
    assert tracker["lastSeen"].startswith("2026-04-15T12:10:00")


def test_visits_move_with_a_merge(api: httpx.Client, store: StoreInfo, clock: FixedClock) -> None:
    """An anonymous visitor from a campaign logs in as a contact that already exists: the
    campaign visit moves with the merge, and is the purchase's first touch."""
    shop = "https://shop.example"
    visit(api, store.id, "t-old", f"{shop}/", "", email="eve@example.com")
    clock.advance(timedelta(days=1))
    visit(api, store.id, "t-new", f"{shop}/?utm_campaign=back&utm_source=ads")
    clock.advance(timedelta(minutes=2))
    out = visit(
        api,
        store.id,
        "t-new",
        f"{shop}/thanks",
        f"{shop}/checkout",
        email="eve@example.com",
        events=[purchase_event("o-eve", [(MUG, 1)], date="2026-04-16T12:02:00Z")],
    )
    assert out["trackerId"] == "t-new"
    data = report(api, store)
    assert by(data["firstTouch"])["direct"]["orders"] == 1  # her first visit, days before
    assert by(data["lastTouch"])["campaign"]["orders"] == 1


def test_cli_and_dashboard_show_the_split(
    api: httpx.Client, store: StoreInfo, db: Database, db_url: str, clock: FixedClock
) -> None:
    visit(
        api,
        store.id,
        "t-cli",
        "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=june",
        email="cli@example.com",
        events=[purchase_event("o-cli", [(LAMP, 2)], date="2026-04-15T12:00:00Z")],
    )
    result = CliRunner().invoke(
        main,
        [
            *("--database", db_url, "report", "sources", "--store", store.id),
            *("--from", "2026-04-01", "--to", "2026-04-30"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "touch,source,orders,revenue,net_revenue,carts,currency"
    assert "first,email,1,49,49,0,EUR" in lines and "last,email,1,49,49,0,EUR" in lines

    add_user(db)
    with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
        login(client)
        page = client.get(f"/stores/{store.id}/sources", params={"from": "2026-04-01"})
        assert page.status_code == 200
        assert "First touch" in page.text and "Last touch" in page.text
        assert "june" in page.text and "49.00" in page.text
