"""End-to-end fixtures: a real `shopevents serve` process on a temporary SQLite database, a
static page server for "the store's own site", and headless Chromium (Debian's build).

Pages of the store's site are served from http://shop.test:<port>/ (Chromium maps the
name to 127.0.0.1), so the client script runs cross-origin, as on a real shop.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from shopevents.cli import main

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
# Chromium's headless shell (Debian's chromium-headless-shell: the same engine, without the
# desktop browser around it; a new page costs about a third of the CPU), else the browser.
CHROMIUM = os.environ.get("SHOPEVENTS_CHROMIUM") or next(
    (
        path
        for path in ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
        if Path(path).exists()
    ),
    "/usr/bin/chromium-headless-shell",
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP shop.test 127.0.0.1, MAP other.test 127.0.0.1",
]
SHOP_HOST = "shop.test"
DEMO_STORE = "Demo store"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    check: Callable[[], Any],
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str = "condition",
    page: Any = None,
) -> Any:
    """Polls until check() returns something truthy; fails the test after the timeout.

    With a page, it waits through the page so Playwright keeps delivering its events.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _cli_prefix() -> list[str]:
    exe = Path(sys.executable).with_name("shopevents")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "shopevents"]


@dataclass
class Store:
    id: str
    key_id: str
    key_secret: str
    name: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"apiKey {self.key_id}:{self.key_secret}"}


@dataclass
class ShopeventsServer:
    """One `shopevents serve` process and its database; stop() and start() keep the port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.workdir / 'shopevents.db'}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        """Runs a `shopevents` command on this server's database, in this process (the same
        command line, without starting Python again for it)."""
        run = CliRunner().invoke(main, ["--database", self.db_url, *args])
        if run.exit_code != 0:
            raise AssertionError(
                f"shopevents {' '.join(args)} failed ({run.exit_code}):\n{run.stderr}"
                f"{run.stdout}{run.exception!r}"
            )
        return run.stdout

    def create_store(self, name: str | None = None, **settings: Any) -> Store:
        """Creates a store (then `stores update` with settings, e.g. tag_mode='on')."""
        name = name or f"Test store {uuid.uuid4().hex[:8]}"
        created = json.loads(self.cli("stores", "create", name, "--json"))
        store = Store(created["storeId"], created["apiKeyId"], created["apiKeySecret"], name)
        if settings:
            self.update_store(store.id, **settings)
        return store

    def update_store(self, store_id: str, **settings: Any) -> None:
        args: list[str] = []
        for key, value in settings.items():
            flag = "--" + key.replace("_", "-")
            for v in value if isinstance(value, list | tuple) else [value]:
                args += [flag, str(v)]
        self.cli("stores", "update", store_id, *args)

    def snippet(self, store_id: str) -> str:
        return self.cli("stores", "snippet", store_id, "--base-url", self.base_url)

    def start(self) -> None:
        log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - the child process owns it
        self.proc = subprocess.Popen(
            [
                *_cli_prefix(),
                "--database",
                self.db_url,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        log.close()
        # Generous: on a loaded machine (parallel test workers) starting Python takes a while.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"shopevents serve exited early:\n{self.log_text()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"shopevents serve did not answer /healthz:\n{self.log_text()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def log_text(self) -> str:
        path = self.workdir / "serve.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # -- reading records back through the REST API ---------------------------------------

    def api(self, store: Store, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, headers=store.auth, timeout=10)

    def purchase(self, store: Store, purchase_id: str) -> dict[str, Any] | None:
        r = self.api(store, f"/api/purchases/purchase-id/{purchase_id}")
        return r.json() if r.status_code == 200 else None

    def contact(self, store: Store, email: str) -> dict[str, Any] | None:
        r = self.api(store, f"/api/contacts/{email}")
        return r.json() if r.status_code == 200 else None

    def activity(self, store: Store, email: str) -> list[dict[str, Any]]:
        r = self.api(store, f"/api/contacts/{email}/activity")
        if r.status_code != 200:
            return []
        body = r.json()
        return body["items"] if isinstance(body, dict) else body

    def activity_types(self, store: Store, email: str) -> list[str]:
        """Activity types, oldest first."""
        return [a["type"] for a in reversed(self.activity(store, email))]


def _new_server(workdir: Path) -> ShopeventsServer:
    server = ShopeventsServer(workdir)
    server.cli("migrate")
    return server


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopeventsServer]:
    """A shared running server, with the demo store created."""
    srv = _new_server(tmp_path_factory.mktemp("shopevents"))
    srv.demo_store = srv.create_store(DEMO_STORE)  # type: ignore[attr-defined]
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[ShopeventsServer]:
    """A server of the test's own, which the test may stop and start again."""
    srv = _new_server(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def e2e_store(e2e_server: ShopeventsServer) -> Store:
    """A new store of its own for the test, on the shared server."""
    return e2e_server.create_store()


# --- the store's own site: static pages on another origin --------------------------------


class PageServer:
    """Serves pages registered by the test at http://shop.test:<port>/<path>."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                html = pages.get(self.path.split("?")[0])
                body = (html or "not found").encode()
                self.send_response(200 if html is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.url(path)

    def url(self, path: str, host: str = SHOP_HOST) -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def site() -> Iterator[PageServer]:
    pages = PageServer()
    yield pages
    pages.close()


LIFECYCLE_PROBE = """<script>
  window.__lifecycle = [];
  ['connectif.loaded', 'connectif.initialized', 'connectif.managed.initialized',
   'connectif.managed.tracker_changed'].forEach(function (name) {
    document.addEventListener(name, function () { window.__lifecycle.push(name); });
  });
  window.__responses = [];
  document.addEventListener('shopevents.responded', function (e) { window.__responses.push(e.detail); });
</script>"""


def html_page(snippet: str, body: str = "", title: str = "Test shop page") -> str:
    """A store page: the lifecycle probe, the loader snippet in <head>, then the body."""
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"{LIFECYCLE_PROBE}{snippet}</head><body>{body}</body></html>"
    )


# --- the browser ---------------------------------------------------------------------------


class Chromium:
    """The worker's Playwright driver and Chromium, started for its first browser test module
    and kept until the worker ends (starting them costs about half a second of CPU).

    Playwright's sync API runs its event loop in a greenlet of this thread, which it marks as
    the thread's running loop, and asyncio.run() refuses to start while a loop is marked so:
    between browser modules the mark is taken away (`park`), so other modules' tests can call
    asyncio.run(), and it is put back before Playwright is used again (its loop's tasks need
    it)."""

    def __init__(self) -> None:
        self.playwright: Any = None
        self.browser: Any = None
        self.parked: asyncio.AbstractEventLoop | None = None

    def open(self) -> Any:
        if self.parked is not None:
            asyncio.events._set_running_loop(self.parked)
            self.parked = None
        if self.browser is None or not self.browser.is_connected():
            from playwright.sync_api import sync_playwright

            if self.playwright is None:
                self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        return self.browser

    def park(self) -> None:
        self.parked = self.parked or asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(None)

    def close(self) -> None:
        if self.parked is not None:
            asyncio.events._set_running_loop(self.parked)
            self.parked = None
        try:
            if self.browser is not None:
                self.browser.close()
            if self.playwright is not None:
                self.playwright.stop()
        finally:
            asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """Not started until a module asks for `browser`."""
    kept = Chromium()
    yield kept
    kept.close()


@pytest.fixture(scope="module")
def browser(chromium: Chromium) -> Iterator[Any]:
    """Chromium, for the tests of one module (the worker's, see `Chromium`)."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium-headless-shell)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield chromium.open()
    chromium.park()


class IngestLog:
    """Every ingest request a page makes, with its JSON body and the server's answer."""

    def __init__(self, page: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        page.on("request", self._on_request)
        page.on("response", self._on_response)

    @staticmethod
    def _is_ingest(url: str) -> bool:
        return "/integration-type/system/scrippet-notification/" in url

    def _on_request(self, request: Any) -> None:
        if self._is_ingest(request.url) and request.method == "POST":
            try:
                self.requests.append(json.loads(request.post_data or "null"))
            except ValueError:
                self.requests.append({"unreadable": request.post_data})

    def _on_response(self, response: Any) -> None:
        if self._is_ingest(response.url) and response.request.method == "POST":
            try:
                body = response.json()
            except Exception:
                body = {}
            self.answers.append(
                {"status": response.status, **(body if isinstance(body, dict) else {})}
            )

    def event_types(self) -> list[list[str]]:
        return [[e.get("type") for e in r.get("events", [])] for r in self.requests]

    def statuses(self, event_type: str) -> list[str]:
        return [
            r["status"]
            for a in self.answers
            for r in a.get("results", [])
            if r.get("type") == event_type
        ]


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    p = context.new_page()
    p.errors = []  # type: ignore[attr-defined]
    p.on("pageerror", lambda exc: p.errors.append(str(exc)))  # type: ignore[attr-defined]
    return p


@pytest.fixture
def ingest(page: Any) -> IngestLog:
    return IngestLog(page)


# Screenshots of the tests' pages, for a person to look at, are taken only when asked: each
# costs Chromium about 0.1 s of CPU, and the tests check the pages without them.
SCREENSHOTS = os.environ.get("SHOPEVENTS_TEST_SCREENSHOTS") == "1"


def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot to artifacts/NAME.png, with SHOPEVENTS_TEST_SCREENSHOTS=1."""
    if not SCREENSHOTS:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def kit(request: pytest.FixtureRequest) -> Any:
    """The helpers above, for test modules (conftest is not importable by name). In a test
    that has a browser page, wait_for waits through that page."""
    from functools import partial
    from types import SimpleNamespace

    waiter: Callable[..., Any] = wait_for
    if "page" in request.fixturenames:
        waiter = partial(wait_for, page=request.getfixturevalue("page"))
    return SimpleNamespace(
        wait_for=waiter, html_page=html_page, screenshot=screenshot, shop_host=SHOP_HOST
    )
