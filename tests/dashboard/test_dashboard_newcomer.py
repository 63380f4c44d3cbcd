"""What a newcomer sees in the dashboard, over real HTTP (SQLite; the pages read through the
same queries on both backends, covered by test_dashboard.py): contacts named by their e-mail
or a part of the id that differs, chart buckets that fit the range, whole-number count axes,
series colours that never change, "abandoned" figures a merchant can tell apart, human field
labels, the debugger's paging and filters, and the favicon."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shopevents.clock import FixedClock
from shopevents.config import Settings
from shopevents.dashboard import charts, format, views
from shopevents.jsoncodec import dumpb
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo
from tests.dashboard.support import (
    add_user,
    cart,
    login,
    owner_hooks,
    product,
    purchase_event,
    send,
    start_server,
)

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
MUG = product("mug-1", "Blue mug", "12.40")
LAMP = product("lamp-2", "Desk lamp", "45.00")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/newcomer.db"


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, FixedClock(NOW))
    yield srv
    srv.stop()


@pytest.fixture
def web(live: LiveServer, db: Database) -> Iterator[httpx.Client]:
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30, event_hooks=owner_hooks(db)) as client:
        login(client)
        yield client


def get(client: httpx.Client, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    return r.text


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find("</section>", start)
    return html[start:end]


def bars(svg_html: str) -> int:
    """Buckets of the first stacked-bar chart: one x position per bucket."""
    svg = svg_html[svg_html.index('<svg class="chart"') :]
    svg = svg[: svg.index("</svg>")]
    return len(set(re.findall(r'<rect (?:class="hit" )?x="([\d.]+)"', svg)))


def table_rows(html: str) -> int:
    """Rows of the first "Show the numbers" table."""
    body = html[html.index('<details class="numbers">') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return body.count("<tr>") - body.count('class="faint">Nothing in this range')


def ticks(svg_html: str) -> list[str]:
    return re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg_html)


# --- the bucket choice, on its own -------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "interval"),
    [(1, "hour"), (2, "hour"), (3, "day"), (7, "day"), (30, "day"), (62, "day"),
     (63, "week"), (90, "week"), (365, "week"), (434, "week"), (435, "month"), (3650, "month")],
)  # fmt: skip
def test_the_bucket_follows_the_range(days: int, interval: str) -> None:
    assert views.pick_interval(days) == interval
    buckets = {"hour": days * 24, "day": days, "week": days / 7, "month": days / 30.4}[interval]
    if days <= 434:
        assert buckets <= views.MAX_BUCKETS + 1
    if days > 2:
        assert buckets >= 2 or interval == "day"


def test_count_axes_have_whole_ticks_and_money_axes_may_not() -> None:
    assert charts.nice_ticks(1, integer=True) == [0, 1]
    assert charts.nice_ticks(3, integer=True) == [0, 1, 2, 3]
    assert all(t == int(t) for t in charts.nice_ticks(7, integer=True))
    assert all(t == int(t) for t in charts.nice_ticks(13, integer=True))
    assert 0.25 in charts.nice_ticks(1)  # amounts keep their fractions


def test_a_series_keeps_its_colour_whatever_else_is_shown() -> None:
    assert (
        charts.colors(["accepted", "rejected"])["rejected"]
        == charts.colors(["rejected"])["rejected"]
    )
    alone = charts.colors(["Zalando"])["Zalando"]
    assert charts.colors(["Amazon", "Zalando"])["Zalando"] in (alone, *charts.PALETTE)
    assert charts.colors(["marketplace", "digital-store"]) == {
        "marketplace": charts.FIXED["marketplace"],
        "digital-store": charts.FIXED["digital-store"],
    }
    assert charts.colors(["PayPal"]) == charts.colors(["PayPal"])


def test_the_last_x_label_stays_inside_the_chart() -> None:
    labels = [f"04-{d:02d} 23h" for d in range(1, 8)]
    svg = str(charts.lines(labels, [("orders", [1] * 7)]))
    last = re.findall(r'<text class="xlabel" x="([\d.]+)"[^>]*text-anchor="(\w+)"', svg)[-1]
    x, anchor = float(last[0]), last[1]
    assert anchor == "end" and x <= charts.W


def test_ids_and_field_names_people_read() -> None:
    a, b = "0190f5a1-6b15-7c28-9d11-aaaabbbb0001", "0190f5a1-6b15-7c28-9d11-ccccdddd0002"
    assert format.short_id(a) != format.short_id(b)
    assert format.short_id(a) == "bbbb0001"
    assert format.field_label("_name") == "First name"
    assert format.field_label("_surname") == "Surname"
    assert format.field_label("_someNewField") == "Some new field"
    assert format.field_label("loyaltyTier") == "loyaltyTier"


# --- over HTTP -----------------------------------------------------------------------------------


def fill(client: httpx.Client, store_id: str) -> None:
    """Purchases on several days of the last 30, two anonymous visitors, an identified one
    with a name, a duplicate purchase and a rejected event."""
    for i, days_ago in enumerate((0, 1, 3, 8, 15, 29, 60, 200)):
        at = (NOW - timedelta(days=days_ago, hours=1)).isoformat().replace("+00:00", "Z")
        send(
            client,
            store_id,
            [purchase_event(f"ORD-{i}", [(MUG, 1 + i % 3)], date=at, source_type="marketplace")],
            email=f"buyer{i}@example.com",
        )
    send(client, store_id, [{"type": "page-visit"}])
    send(client, store_id, [{"type": "page-visit"}])
    body = {
        "events": [{"type": "page-visit"}],
        "entityInfo": {
            "primaryKey": "ana.garcia@example.com",
            "_name": "Ana",
            "_surname": "García",
        },
        "cart": cart("cart-1", [(LAMP, 1)]),
    }
    r = client.post(
        f"/integration-type/system/scrippet-notification/{store_id}",
        content=dumpb(body),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200
    again = purchase_event("ORD-0", [(MUG, 1)], date="2026-04-15T11:00:00Z")
    send(client, store_id, [again], email="buyer0@example.com")
    send(client, store_id, [{"type": "no-such-event"}])


def test_buckets_fit_the_range_and_can_be_chosen(
    web: httpx.Client, store: StoreInfo, live: LiveServer
) -> None:
    fill(web, store.id)
    base = f"/stores/{store.id}/"
    # 30 days (the default): days, 30 of them, in every chart.
    html = get(web, base)
    assert "Revenue per day" in html and "Events received per day by outcome" in html
    assert bars(section(html, "revenue")) == 30
    assert bars(section(html, "events")) == 30
    assert table_rows(section(html, "revenue")) == 30
    assert '<option value="auto" selected>auto (day)</option>' in html
    # Every count axis is in whole numbers (few orders: no 0.25 of an order).
    for name in ("Orders per day", "Carts per day"):
        svg = html[html.index(f'aria-label="{name}"') :]
        svg = svg[: svg.index("</svg>")]
        assert ticks(svg) and all(t.isdigit() for t in ticks(svg)), (name, ticks(svg))
    # 12 months: weeks.
    year = get(web, base + "?from=2025-04-16&to=2026-04-15")
    assert "Revenue per week" in year and "Events received per week" in year
    assert 52 <= bars(section(year, "revenue")) <= 54
    # 90 days: weeks too (not 90 thin bars).
    quarter = get(web, base + "?from=2026-01-16&to=2026-04-15")
    assert 13 <= bars(section(quarter, "revenue")) <= 15
    # Today: hours, up to now (12:00 UTC = 12 hours and the current one).
    today = get(web, base + "?from=2026-04-15&to=2026-04-15")
    assert "Revenue per hour" in today and "Events received per hour" in today
    assert bars(section(today, "revenue")) == 13
    # The revenue per hour holds today's purchases (ORD-0 at 11:00; ORD-0 again is a duplicate).
    rows = section(today, "revenue")
    assert "2026-04-15 11:00" in rows
    # A chosen bucket wins, and stays chosen.
    chosen = get(web, base + "?from=2025-04-16&to=2026-04-15&interval=day")
    assert "Revenue per day" in chosen and bars(section(chosen, "revenue")) == 365
    assert '<option value="day" selected>day</option>' in chosen
    # Hours over more than 62 days: a clear message, not an error page.
    too_long = get(web, base + "?from=2025-04-16&to=2026-04-15&interval=hour")
    assert "Hourly figures are for ranges of at most 62 days" in too_long
    # The presets drop a chosen bucket: "12 months" after a daily view is weekly again.
    assert "interval=" not in re.findall(r'<a href="([^"]*)"[^>]*>12 months</a>', chosen)[0]


def test_series_colours_are_the_same_on_every_page(web: httpx.Client, store: StoreInfo) -> None:
    fill(web, store.id)
    base = f"/stores/{store.id}"
    pages = [
        get(web, base + "/"),
        get(web, base + "/?from=2026-04-15&to=2026-04-15"),
        get(web, base + "/?from=2025-04-16&to=2026-04-15"),
        get(web, base + "/debugger"),
    ]
    for html in pages:
        legend = html[html.index('id="events"') if 'id="events"' in html else 0 :]
        for name in ("accepted", "duplicate", "conflict", "rejected"):
            colour = charts.FIXED[name]
            assert f'fill="{colour}"/></svg>{name}</li>' in legend, name


def test_contacts_are_named_people_can_tell_apart(web: httpx.Client, store: StoreInfo) -> None:
    fill(web, store.id)
    base = f"/stores/{store.id}"
    listing = get(web, base + "/debugger")
    ids = re.findall(r'href="/stores/[^/]+/debugger/requests/(\d+)"', listing)
    labels: dict[str, str] = {}
    for rid in ids:
        page = get(web, f"{base}/debugger/requests/{rid}")
        mt = re.search(r'contact <a href="[^"]+/contacts/([^"]+)"[^>]*>([^<]+)</a>', page)
        if mt:
            labels[mt.group(1)] = mt.group(2)
    # Identified contacts by their e-mail, on the request page too.
    assert "ana.garcia@example.com" in labels.values()
    assert "buyer3@example.com" in labels.values()
    anonymous = {cid: lab for cid, lab in labels.items() if lab.startswith("anonymous ")}
    assert len(anonymous) >= 2
    assert len(set(anonymous.values())) == len(anonymous), anonymous  # ids share their start
    for cid, lab in anonymous.items():
        assert lab == "anonymous " + cid[-8:]
    # The debugger list names the contact too.
    assert "ana.garcia@example.com" in listing
    # The contact sheet labels Connectif's fields for people.
    contact_id = next(c for c, lab in labels.items() if lab == "ana.garcia@example.com")
    sheet = get(web, f"{base}/contacts/{contact_id}")
    assert "<dt>First name</dt><dd>Ana</dd>" in sheet
    assert "<dt>Surname</dt><dd>García</dd>" in sheet
    assert "<dt>_name</dt>" not in sheet and "<dt>_surname</dt>" not in sheet
    # E-mails do not wrap mid-word in the purchases table.
    purchases = get(web, f"{base}/purchases")
    assert re.search(r'class="contact">buyer\d@example.com</a>', purchases)


def test_abandoned_in_range_and_abandoned_now_are_told_apart(
    web: httpx.Client, store: StoreInfo
) -> None:
    fill(web, store.id)
    base = f"/stores/{store.id}"
    overview = get(web, base + "/")
    assert "Abandoned in range" in overview
    assert "carts abandoned in the range" in overview
    carts = get(web, base + "/carts")
    assert "Abandoned now, not recovered" in carts
    assert re.search(r">Abandoned<span", carts) is None


def test_debugger_pages_and_filters(web: httpx.Client, store: StoreInfo) -> None:
    base = f"/stores/{store.id}"
    for i in range(55):
        send(web, store.id, [{"type": "page-visit"}], tracker=f"trk-{i:03d}")
    fill(web, store.id)
    first = get(web, base + "/debugger")
    ids = [int(x) for x in re.findall(r'<tr class="req" data-id="(\d+)"', first)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert 'data-live="1"' in first
    older = re.search(r'<a href="\?before=(\d+)" rel="next">Older', first)
    assert older and int(older.group(1)) == ids[-1]
    second = get(web, f"{base}/debugger?before={older.group(1)}")
    ids2 = [int(x) for x in re.findall(r'<tr class="req" data-id="(\d+)"', second)]
    assert ids2 and max(ids2) < min(ids) and 'data-live="0"' in second
    assert len(ids) + len(ids2) == 55 + 13  # every request, once
    assert "Older" not in second and "← Newest" in second
    # Filters: by outcome, by event type, by text; they combine with paging.
    dup = get(web, base + "/debugger?status=duplicate")
    rows = re.findall(r'<tr class="req" data-id="(\d+)"', dup)
    assert len(rows) == 1 and "purchase: duplicate" in dup
    rejected = get(web, base + "/debugger?status=rejected")
    assert len(re.findall(r'<tr class="req"', rejected)) == 1
    assert "no-such-event: rejected" in rejected
    purchases = get(web, base + "/debugger?type=purchase")
    assert len(re.findall(r'<tr class="req"', purchases)) == 9
    both = get(web, base + "/debugger?type=page-visit&status=duplicate")
    assert len(re.findall(r'<tr class="req"', both)) == 0 and "No requests match" in both
    by_mail = get(web, base + "/debugger?q=ana.garcia")
    assert len(re.findall(r'<tr class="req"', by_mail)) == 1
    by_tracker = get(web, base + "/debugger?q=trk-01")
    assert len(re.findall(r'<tr class="req"', by_tracker)) == 10
    by_number = get(web, f"{base}/debugger?q=%23{ids[3]}")
    assert re.findall(r'<tr class="req" data-id="(\d+)"', by_number) == [str(ids[3])]
    # Unknown filter values are ignored, not errors.
    assert len(re.findall(r'<tr class="req"', get(web, base + "/debugger?status=nope"))) == 50
    # The JSON list takes the same filters (the live list pauses on filtered pages).
    data = web.get(base + "/debugger/requests.json?type=purchase").json()
    assert len(data["items"]) == 9 and data["older"] is None
    assert {r["type"] for item in data["items"] for r in item["results"]} == {"purchase"}


def test_favicon_is_served_and_linked(web: httpx.Client, store: StoreInfo) -> None:
    ico = web.get("/favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"
    svg = web.get("/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    page = get(web, f"/stores/{store.id}/")
    assert '<link rel="icon" href="/favicon.svg"' in page
    demo = httpx.get(str(web.base_url) + "/demo/")
    if demo.status_code == 200:
        assert '<link rel="icon" href="/favicon.svg"' in demo.text
