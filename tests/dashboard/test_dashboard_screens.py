"""Every dashboard page after `shopevents demo`, in Chromium at a desktop (1280×800) and a
phone (390×844) width: nothing wider than the screen (a wide table scrolls inside its own
frame), chart buckets that fit the range, no missing file (favicon included), and a
screenshot of each. One server, one demo run, one browser.

The desktop screenshots illustrate docs/dashboard.md: run with
SHOPEVENTS_UPDATE_SCREENSHOTS=1 to write them to docs/screenshots/ (made smaller with pngquant
when it is installed). With SHOPEVENTS_TEST_SCREENSHOTS=1 they go to artifacts/screens/, with
the phone ones; otherwise none is taken (they would cost half of the test's CPU)."""

from __future__ import annotations

import os
import re
import shutil
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
from shopevents.simulate import run_demo
from shopevents.storage import accounts, stores
from shopevents.storage.database import Database
from tests.browser import SCREENSHOTS

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
DOCS_SHOTS = REPO / "docs" / "screenshots"
UPDATE = "SHOPEVENTS_UPDATE_SCREENSHOTS"
PASSWORD = "screens password 1"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

OVERFLOW_JS = """
() => {
  const vw = window.innerWidth;
  const out = [];
  const doc = document.documentElement.scrollWidth;
  if (doc > vw) out.push("document is " + doc + " px wide");
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (/(auto|scroll|hidden)/.test(s.overflowX) && p.getBoundingClientRect().right <= vw + 1
          && p.getBoundingClientRect().left >= -1) return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right <= vw + 1 && r.left >= -1) continue;
    if (scrolls(el)) continue;
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "");
    out.push(name + " spans " + Math.round(r.left) + ".." + Math.round(r.right));
    if (out.length > 8) break;
  }
  return out;
}
"""

BUCKETS_JS = """
() => Array.from(document.querySelectorAll("svg.chart")).map((svg) => {
  const label = svg.getAttribute("aria-label") || "";
  const xs = new Set(Array.from(svg.querySelectorAll("rect")).map((r) => r.getAttribute("x")));
  const line = svg.querySelector("polyline");
  const points = line ? line.getAttribute("points").trim().split(/\\s+/).length : 0;
  return { label: label, n: line ? points : xs.size };
}).filter((c) => / per (hour|day|week|month)/.test(c.label))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """`shopevents serve` (worker included) in a child process on a SQLite file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.db_url = f"sqlite:///{workdir / 'screens.db'}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "shopevents", "--database", self.db_url),
                *("serve", "--port", str(self.port)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            # the server refuses SHOPEVENTS_ names it does not know: this one is the test's
            env={k: v for k, v in os.environ.items() if k != UPDATE},
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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("screens")
    srv = Serve(work)
    db = Database(srv.db_url)
    db.migrate()
    conn = db.connect()
    now = to_micros(SystemClock().now())
    try:
        with conn.transaction():
            store = stores.create_store(
                conn, "Demo store", now=now, timezone="Europe/Madrid", currency="EUR"
            )
            uid = auth.create_user(conn, "admin", PASSWORD, now)
            accounts.grant(conn, uid, store.id, "owner", now)  # the account owns the store
    finally:
        conn.close()
        db.close()
    srv.start()
    run_demo(
        Env(Settings(database_url=srv.db_url)),
        url=srv.url,
        store_ref=None,
        api_key=None,
        visitors=45,
        days=30,
        abandon_after="1s",
        seed=2026,
    )
    yield {"url": srv.url, "store": store.id}
    srv.stop()


def _log_in(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/stores/[^/]+/$"))
    return page


def _pages(page: Any, url: str, store_id: str) -> list[tuple[str, str, str]]:
    """(name, path, range kind) of every dashboard page: the lists, and one of each detail
    page found through them."""
    base = f"/stores/{store_id}"

    def first_link(path: str, selector: str) -> str:
        page.goto(url + path)
        href = page.locator(selector).first.get_attribute("href")
        assert href, f"no link {selector} on {path}"
        return str(href)

    out = [
        ("overview", base + "/", "days"),
        ("overview-today", base + "/?from={today}&to={today}", "today"),
        ("overview-12-months", base + "/?from={year_ago}&to={today}", "days"),
        ("contacts", base + "/contacts", ""),
        ("contact", first_link(base + "/contacts?q=%40", "tbody td a"), ""),
        ("catalog", base + "/catalog", ""),
        ("product", first_link(base + "/catalog", "tbody td a"), ""),
        ("carts", base + "/carts", ""),
        ("cart", first_link(base + "/carts?state=recovered", "tbody td.mono a"), ""),
        ("purchases", base + "/purchases", ""),
        ("purchase", first_link(base + "/purchases", "tbody td.mono a"), ""),
        ("sources", base + "/sources", ""),
        ("debugger", base + "/debugger", "hours"),
        ("request", first_link(base + "/debugger?type=purchase", "tbody td a"), ""),
        ("quarantine", base + "/quarantine", ""),
        ("webhooks", base + "/webhooks", ""),
        ("custom-events", base + "/custom-events", ""),
        ("imports", base + "/imports", ""),
        ("settings", base + "/settings", ""),
        ("demo-landing", "/demo/", ""),
    ]
    page.goto(url + base + "/")
    today = page.input_value("input[name=to]")
    year_ago = f"{int(today[:4]) - 1}{today[4:]}"
    return [(n, p.format(today=today, year_ago=year_ago), k) for n, p, k in out]


def test_every_page_fits_desktop_and_phone(browser: Any, demo: dict[str, Any]) -> None:
    url = demo["url"]
    update = os.environ.get(UPDATE) == "1"
    shots = REPO / "artifacts" / "screens"
    if SCREENSHOTS:
        shots.mkdir(parents=True, exist_ok=True)
    if update:
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    missing: list[str] = []
    errors: list[str] = []
    pages: list[tuple[str, str, str]] | None = None
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        try:
            page = _log_in(context, url)
            page.on(
                "response",
                lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            page.on("pageerror", lambda exc: errors.append(f"{exc}"))
            if pages is None:
                pages = _pages(page, url, demo["store"])
            for name, path, kind in pages:
                resp = page.goto(url + path)
                assert resp is not None and resp.status == 200, (name, path)
                page.wait_for_load_state("load")
                for issue in page.evaluate(OVERFLOW_JS):
                    problems.append(f"{width} {name}: {issue}")
                charts = page.evaluate(BUCKETS_JS)
                if kind:
                    assert charts, f"{name}: no chart over time"
                for c in charts:
                    lo, hi = {"today": (1, 24), "hours": (1, 48)}.get(kind, (2, 62))
                    assert lo <= c["n"] <= hi, f"{width} {name}: {c['label']} has {c['n']} buckets"
                if width == "desktop" and (update or SCREENSHOTS):
                    if name.startswith("overview-"):  # the charts of that range, not the KPIs
                        page.evaluate("document.getElementById('revenue').scrollIntoView()")
                    target = DOCS_SHOTS if update else shots
                    page.screenshot(path=str(target / f"{name}.png"))
                elif width == "phone" and SCREENSHOTS:
                    page.screenshot(path=str(shots / f"phone-{name}.png"), full_page=True)
            assert errors == [], errors
            if width == "phone":
                # The navigation is one compact row at the top, not a whole first screen.
                page.goto(url + pages[0][1])
                nav = page.locator("aside.side").bounding_box()
                assert nav is not None and nav["height"] < 160, nav
        finally:
            context.close()
    if update and shutil.which("pngquant"):  # 256 colours: a third of the size, same look
        subprocess.run(
            ["pngquant", "--force", "--skip-if-larger", "--ext", ".png", "--quality", "70-95"]
            + [str(p) for p in sorted(DOCS_SHOTS.glob("*.png"))],
            check=False,
            timeout=120,
        )
    assert problems == [], "\n".join(problems)
    assert missing == [], missing


def test_the_demo_landing_snippet_is_whole_and_can_be_copied(
    browser: Any, demo: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(demo["url"] + "/demo/")
        pre = page.locator("pre#snippet")
        box = pre.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        # The whole snippet is on screen (wrapped), not cut off behind a sideways scroll.
        assert page.evaluate("(el) => el.scrollWidth <= el.clientWidth", pre.element_handle())
        page.click("#copy-snippet")
        page.wait_for_function(
            "() => document.getElementById('copy-snippet').textContent !== 'Copy'"
        )
        assert page.locator("#copy-snippet").inner_text() in ("Copied", "Selected: press Ctrl+C")
    finally:
        context.close()
