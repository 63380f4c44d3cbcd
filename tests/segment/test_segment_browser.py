"""@segment/analytics-next, from the package's own build in node_modules (dist/umd), in
Chromium on a store page of another origin, sending to a live server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shopevents.storage.database import Database
from tests.browser import CHROMIUM
from tests.conftest import LiveServer, free_port
from tests.segment.conftest import (
    LAMP,
    MUG,
    NODE_MODULES,
    SegmentStore,
    check_session,
    ensure_node_modules,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is needed"),
]

PAGE = """<!doctype html><html><head><title>Desk lamp</title>
<script src="/analytics-next/bundles/index.js"></script></head><body><h1>Desk lamp</h1>
<script>
const S = %(settings)s;
const lamp = %(lamp)s, mug = %(mug)s;
const purchase = {order_id: S.order, total: 74.7, currency: 'EUR', products: [{...lamp, quantity: 3}]};
window.done = (async () => {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    {writeKey: S.writeKey, cdnURL: S.cdn, cdnSettings: {integrations: {'Segment.io': {
      apiKey: S.writeKey, apiHost: S.apiHost, protocol: 'http'}}}},
    {integrations: {'Segment.io': {apiHost: S.apiHost, protocol: 'http'}}});
  await analytics.identify(S.user, {email: S.email, firstName: 'Ana', plan: 'gold'});
  await analytics.page();
  await analytics.track('Product Viewed', lamp);
  await analytics.track('Product Added', {...lamp, quantity: 3});
  await analytics.track('Product Added', {...mug, quantity: 1});
  await analytics.track('Product Removed', {...mug, quantity: 1});
  await analytics.track('Order Completed', purchase);
  await analytics.track('Order Completed', purchase);
  return 'sent';
})();
</script></body></html>"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static site: the store's page, and the package's build under /analytics-next/bundles/."""
    ensure_node_modules()
    root = tmp_path / "site"
    (root / "analytics-next").mkdir(parents=True)
    (root / "analytics-next" / "bundles").symlink_to(
        NODE_MODULES / "@segment" / "analytics-next" / "dist" / "umd"
    )
    port = free_port()
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", port), partial(SimpleHTTPRequestHandler, directory=str(root))
    )
    httpd.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://shop.test:{port}", root
    httpd.shutdown()


def test_analytics_next_in_chromium(
    server: LiveServer, db: Database, seg: SegmentStore, site: tuple[str, Path], page: Any
) -> None:
    base, root = site
    settings = {
        "writeKey": seg.write_key,
        "apiHost": f"127.0.0.1:{server.port}/v1",
        "cdn": base,
        "user": "user-browser",
        "email": "fay@example.com",
        "order": "ORD-WEB-1",
    }
    (root / "lamp.html").write_text(
        PAGE % {"settings": json.dumps(settings), "lamp": json.dumps(LAMP), "mug": json.dumps(MUG)}
    )
    page.goto(f"{base}/lamp.html")
    assert page.evaluate("window.done") == "sent"
    out = check_session(db, seg.store.id, "fay@example.com", "ORD-WEB-1")
    assert json.loads(out["contact"][4])["_name"] == "Ana"
