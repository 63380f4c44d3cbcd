"""The dashboard in headless Chromium against a real `shopevents serve` process, filled by the
traffic simulator: log in, open every page (screenshots in artifacts/), use the date picker,
watch requests arrive live, replay a quarantined event, and see store text stay text."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopevents.cli.env import Env
from shopevents.clock import SystemClock, to_micros
from shopevents.config import Settings
from shopevents.dashboard import auth
from shopevents.jsoncodec import dumpb
from shopevents.simulate import run_demo
from shopevents.storage import accounts, stores
from shopevents.storage.database import Database

pytestmark = pytest.mark.browser

PASSWORD = "e2e password 1"
XSS = "<img src=x onerror=alert(1)>"
PAGES = [
    ("overview", "Overview"),
    ("contacts", "Contacts"),
    ("catalog", "Catalog"),
    ("carts", "Carts"),
    ("purchases", "Purchases"),
    ("debugger", "Integration"),
    ("quarantine", "Quarantine"),
    ("settings", "Settings"),
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """`shopevents serve` in a child process on a SQLite file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.db_url = f"sqlite:///{workdir / 'dash.db'}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **env: str) -> None:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shopevents",
                "--database",
                self.db_url,
                "serve",
                "--port",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env={**os.environ, **env},
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("shopevents serve did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
            self.proc = None


def _ingest(url: str, store_id: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/integration-type/system/scrippet-notification/{store_id}",
        content=dumpb(body),
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("dashboard")
    srv = Serve(work)
    db = Database(srv.db_url)
    db.migrate()
    conn = db.connect()
    now = to_micros(SystemClock().now())
    try:
        with conn.transaction():
            store = stores.create_store(conn, "Demo store", now=now, timezone="Europe/Madrid")
            second = stores.create_store(conn, "Second shop", now=now + 1)
            uid = auth.create_user(conn, "admin", PASSWORD, now)
            for rec in (store, second):  # the account owns both stores
                accounts.grant(conn, uid, rec.id, "owner", now)
    finally:
        conn.close()
        db.close()
    # First with a small event limit: a large purchase lands in quarantine (too_large).
    srv.start(SHOPEVENTS_INGEST_MAX_EVENT_BYTES="500")
    big = {
        "type": "purchase",
        "purchase": {
            "purchaseId": "ORD-LARGE-1",
            "totalQuantity": 1,
            "totalPrice": 149.0,
            "products": [
                {
                    "productId": "bike-01",
                    "name": "City bike helmet",
                    "productDetailUrl": "http://127.0.0.1/demo/js/product/bike-01",
                    "unitPrice": 149.0,
                    "description": "A light helmet with a rear light. " * 12,
                    "quantity": 1,
                    "price": 149.0,
                }
            ],
        },
    }
    out = _ingest(
        srv.url, store.id, {"events": [big], "entityInfo": {"primaryKey": "rider@example.com"}}
    )
    assert out["results"][0]["code"] == "too_large"
    srv.stop()
    # The limit is back to its default: the simulator fills the store.
    srv.start()
    evil = {
        "productId": "evil-1",
        "name": XSS,
        "productDetailUrl": "javascript:alert(1)",
        "unitPrice": 1,
    }
    _ingest(srv.url, store.id, {"events": [{"type": "product-visited", "product": evil}]})
    run_demo(
        Env(Settings(database_url=srv.db_url)),
        url=srv.url,
        store_ref=None,
        api_key=None,
        visitors=40,
        days=30,
        abandon_after="1s",
        seed=11,
    )
    yield {"url": srv.url, "store": store.id}
    srv.stop()


def login(page: Any, url: str) -> None:
    page.goto(url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/stores/[^/]+/$"))


def watch_for_script(page: Any) -> list[str]:
    """Dialogs opened by the page (a store's text running as script would open one)."""
    dialogs: list[str] = []

    def on_dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def test_log_in_and_open_every_page(page: Any, shop: dict[str, Any], kit: Any) -> None:
    dialogs = watch_for_script(page)
    page.goto(shop["url"] + "/login")
    kit.screenshot(page, "dashboard-login")
    login(page, shop["url"])
    for key, label in PAGES:
        with page.expect_navigation():
            page.click(f".nav a:text-is('{label}')")
        assert page.locator(".nav a.active").inner_text() == label
        assert page.locator("h1").count() == 1
        kit.screenshot(page, f"dashboard-{key}")
    page.goto(f"{shop['url']}/stores/{shop['store']}/")
    assert page.locator("svg.chart").count() >= 5
    assert page.locator(".kpi .value").first.inner_text().startswith("€")
    # Every chart has its numbers as a table.
    page.click("#revenue details.numbers summary")
    assert page.locator("#revenue details.numbers tbody tr").count() == 30
    # A contact sheet, a cart, a purchase.
    page.goto(f"{shop['url']}/stores/{shop['store']}/contacts")
    with page.expect_navigation():
        page.locator("tbody a").first.click()
    assert page.locator("#activity .timeline li").count() > 0
    kit.screenshot(page, "dashboard-contact")
    page.goto(f"{shop['url']}/stores/{shop['store']}/carts?state=recovered")
    with page.expect_navigation():
        page.locator("tbody a").first.click()
    assert page.locator("text=abandoned").count() > 0
    kit.screenshot(page, "dashboard-cart")
    page.goto(f"{shop['url']}/stores/{shop['store']}/purchases?view=repeats")
    with page.expect_navigation():
        page.locator("tbody td.mono a").first.click()
    assert page.locator("#versions").count() == 1
    kit.screenshot(page, "dashboard-purchase")
    # Store text is text: the product named like a script is shown, never run.
    page.goto(f"{shop['url']}/stores/{shop['store']}/catalog?q=evil")
    assert page.locator("tbody td a", has_text=XSS).count() == 1
    page.goto(f"{shop['url']}/stores/{shop['store']}/catalog/evil-1")
    assert page.locator("dd", has_text="javascript:alert(1)").count() == 1
    assert page.locator("a[href^='javascript']").count() == 0
    # Switch stores from the left nav.
    page.select_option("#store-switch", label="Second shop")
    page.wait_for_url(re.compile(r"/stores/[^/]+/catalog$"))
    assert shop["store"] not in page.url
    assert "Nothing" in page.locator(".empty h2").inner_text() or "empty" in page.content()
    page.goto(f"{shop['url']}/stores/{page.url.split('/')[4]}/")
    assert "Nothing has arrived for this store yet" in page.content()
    kit.screenshot(page, "dashboard-empty-store")
    assert dialogs == [] and page.errors == []


def test_date_picker(page: Any, shop: dict[str, Any], kit: Any) -> None:
    login(page, shop["url"])
    first = page.input_value("input[name=from]")
    last = page.input_value("input[name=to]")
    assert first < last
    page.fill("input[name=from]", last[:8] + "01")
    page.click("form.picker button[type=submit]")
    page.wait_for_url(re.compile(r"from=" + last[:8] + "01"))
    assert page.input_value("input[name=from]") == last[:8] + "01"
    with page.expect_navigation():
        page.click(".presets a:text-is('90 days')")
    assert page.locator(".presets a.on").inner_text() == "90 days"
    page.select_option("select[name=interval]", "week")  # submits by itself
    page.wait_for_url(re.compile(r"interval=week"))
    assert "Revenue per week" in page.locator("#revenue h2").inner_text()
    page.select_option("select[name=groupBy]", "payment_method")
    page.wait_for_url(re.compile(r"groupBy=payment_method"))
    assert page.locator("#revenue .legend li").count() >= 2
    kit.screenshot(page, "dashboard-overview-weekly")
    assert page.errors == []


def test_requests_arrive_live(page: Any, shop: dict[str, Any], kit: Any) -> None:
    login(page, shop["url"])
    with page.expect_navigation():
        page.click(".nav a:text-is('Integration')")
    before = page.locator("#reqs tr.req").first.get_attribute("data-id")
    out = _ingest(
        shop["url"],
        shop["store"],
        {
            "events": [
                {"type": "page-visit"},
                {"type": "search", "searchText": "live"},
                {"type": "teleport"},
            ]
        },
    )
    assert [r["status"] for r in out["results"]] == ["accepted", "accepted", "rejected"]
    kit.wait_for(
        lambda: page.locator("#reqs tr.req").first.get_attribute("data-id") != before,
        timeout=10,
        what="the new request in the list without a reload",
    )
    row = page.locator("#reqs tr.req").first
    assert "teleport: rejected" in row.inner_text()
    row.click()
    detail = page.locator("#reqs tr.detail-row")
    kit.wait_for(lambda: "Raw body" in (detail.text_content() or ""), what="the request's details")
    text = detail.text_content() or ""
    assert "unknown_type" in text and '"searchText": "live"' in text
    kit.screenshot(page, "dashboard-debugger-live")
    assert page.errors == []


def test_replay_a_quarantined_event(page: Any, shop: dict[str, Any], kit: Any) -> None:
    login(page, shop["url"])
    page.goto(f"{shop['url']}/stores/{shop['store']}/quarantine?code=too_large")
    row = page.locator("tbody tr", has_text="too_large")
    assert row.count() == 1
    row.locator("input[name=id]").check()
    with page.expect_navigation():
        page.click("button:text-is('Replay selected')")
    assert "1 replayed and accepted" in page.locator(".flash").inner_text()
    kit.screenshot(page, "dashboard-quarantine-replayed")
    page.goto(f"{shop['url']}/stores/{shop['store']}/purchases?q=ORD-LARGE-1")
    assert "ORD-LARGE-1" in page.locator("h1").inner_text()
    assert "rider@example.com" in page.content()
    assert page.errors == []
