"""A page that speaks Connectif's protocol exactly as Connectif's own script does, in real
Chromium against a real `shopevents serve`: after every answer, whatever its status, the
script runs `JSON.parse` on it and stores `{"id": answer.trackerId}` in localStorage as
`cn_tracker`, and it sends that tracker with the next request. An error answer (here a
`413` and a rate-limit `429`) must not turn the visitor into a new anonymous contact: after
it, a reload still belongs to the same contact, with its history.

No shopevents client script is loaded: the page's own script below is the client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

# What Connectif's client script v1.3.0 does on the wire (reference §3.2, §3.5, §6): the
# tracker from entityInfo, else localStorage `cn_tracker`, else `__cn_tracker` in the URL,
# cut to 24 characters; a text/plain JSON POST to
# {baseUrl}integration-type/system/scrippet-notification/{token}; on readyState 4,
# JSON.parse(responseText) and cn_tracker = {"id": result.trackerId}, whatever the status;
# no retry.
CONNECTIF_LIKE = """<script>
(function () {
  var conf = __CONF__;
  window.__answers = [];
  function param(name) {
    var m = new RegExp('[?&]' + name + '=([^&#]*)').exec(location.search);
    return m ? decodeURIComponent(m[1]) : undefined;
  }
  function storedTracker() {
    var s = localStorage.getItem('cn_tracker');
    return s ? JSON.parse(s).id : undefined;
  }
  function allowed() {
    return !conf.allowedDomains.length || conf.allowedDomains.some(function (d) {
      return location.href.indexOf(d) === 0;
    });
  }
  window.sendEvents = function (events, options) {
    options = options || {};
    if (!allowed()) { window.__answers.push({skipped: true}); return; }
    var entityInfo = options.entityInfo || {};
    var trackerId = entityInfo.trackerId || storedTracker() || param('__cn_tracker');
    if (trackerId) entityInfo.trackerId = trackerId.substring(0, 24);
    var body = {
      entityInfo: entityInfo, cart: options.cart, events: events, bannerPlaceholders: [],
      pageInfo: {categories: [], title: document.title.substring(0, 50), keywords: [], tags: []},
      browserInfo: {windowWidth: innerWidth, windowHeight: innerHeight, language: navigator.language,
                    url: encodeURIComponent(location.href), referer: document.referrer, device: 'desktop'}
    };
    var xhr = new XMLHttpRequest();
    xhr.open('POST', conf.baseUrl + 'integration-type/system/scrippet-notification/' + conf.token, true);
    xhr.setRequestHeader('Content-type', 'text/plain');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var result = JSON.parse(xhr.responseText);
      localStorage.setItem('cn_tracker', JSON.stringify({id: result.trackerId}));
      window.__answers.push({status: xhr.status, body: result, stored: localStorage.getItem('cn_tracker')});
      if (options.onResponded) options.onResponded();
    };
    xhr.send(JSON.stringify(body));
  };
})();
</script>"""


def connectif_page(server: Any, store: Any, site: Any, calls: str) -> str:
    """A store page with the Connectif-like client configured for `store` (its authorised
    domains in Connectif's form, as the served configuration gives them), then `calls`."""
    served = server.api(store, f"/client-script/{store.id}").text
    start = served.index('"allowedDomains":') + len('"allowedDomains":')
    domains = json.loads(served[start : served.index("]", start) + 1])
    conf = {"token": store.id, "baseUrl": server.base_url + "/", "allowedDomains": domains}
    script = CONNECTIF_LIKE.replace("__CONF__", json.dumps(conf))
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Connectif-style page</title>'
        f"{script}</head><body><h1>Shop</h1><script>{calls}</script></body></html>"
    )


def answers(page: Any, kit: Any, n: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = kit.wait_for(
        lambda: (a := page.evaluate("window.__answers")) and len(a) >= n and a,
        what=f"{n} answer(s) in the page",
    )
    return got


def stored_tracker(page: Any) -> Any:
    return json.loads(page.evaluate("localStorage.getItem('cn_tracker')") or "null")


LOGIN = """sendEvents([{type: 'login'}, {type: 'page-visit'}],
  {entityInfo: {primaryKey: 'ana.connectif@example.com', _name: 'Ana'}});"""
PAGE_VISIT = "sendEvents([{type: 'page-visit'}]);"


def identify(page: Any, kit: Any, site: Any, server: Any, store: Any, name: str) -> str:
    page.goto(
        site.add(f"/{store.id}/{name}/login.html", connectif_page(server, store, site, LOGIN))
    )
    first = answers(page, kit, 1)[0]
    assert first["status"] == 200, first
    tracker: str = first["body"]["trackerId"]
    assert stored_tracker(page) == {"id": tracker}
    return tracker


def test_an_error_answer_keeps_the_visitor_and_its_history(
    e2e_server: Any, site: Any, page: Any, kit: Any
) -> None:
    # The store's authorised domain in Connectif's form (a URL prefix): the page's script
    # tracks with it and the server's Origin check lets the page in.
    store = e2e_server.create_store(domain=[f"http://{kit.shop_host}:{site.port}/"])
    tracker = identify(page, kit, site, e2e_server, store, "error")

    # A search page listing 600 results sends one product-searched each: over the server's
    # 500 events per request, the whole request is refused with 413.
    search = """var events = [];
for (var i = 0; i < 600; i++) events.push({type: 'product-searched', product: {productId: 'P' + i,
  name: 'Lamp ' + i, productDetailUrl: location.origin + '/p/' + i, unitPrice: 10}});
events.push({type: 'search', searchText: 'lamp'}, {type: 'page-visit'});
sendEvents(events);"""
    page.goto(
        site.add(f"/{store.id}/error/search.html", connectif_page(e2e_server, store, site, search))
    )
    refused = answers(page, kit, 1)[0]
    assert refused["status"] == 413 and refused["body"]["code"] == "too_many_events", refused
    assert refused["body"]["trackerId"] == tracker
    assert stored_tracker(page) == {"id": tracker}  # not {}: the visitor is not erased

    # The next page (and a reload of it) is still Ana's.
    url = site.add(
        f"/{store.id}/error/next.html", connectif_page(e2e_server, store, site, PAGE_VISIT)
    )
    page.goto(url)
    assert answers(page, kit, 1)[0]["body"]["trackerId"] == tracker
    page.reload()
    assert answers(page, kit, 1)[0]["body"]["trackerId"] == tracker

    types = e2e_server.activity_types(store, "ana.connectif@example.com")
    assert types == [
        "entity-created",
        "login",
        "web-page-visited",
        "web-page-visited",
        "web-page-visited",
    ]
    contact = e2e_server.contact(store, "ana.connectif@example.com")
    assert contact["_name"] == "Ana"
    kit.screenshot(page, "connectif-protocol-after-413")


@pytest.fixture
def limited_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A `shopevents serve` of the test's own whose rate limit bites on the browser (loopback
    is not exempt here): one request a second per client address, bursts of two."""
    from tests.browser import ShopeventsServer

    monkeypatch.setenv("SHOPEVENTS_INGEST_RATE_LIMIT_PER_CLIENT", "1")
    monkeypatch.setenv("SHOPEVENTS_INGEST_RATE_LIMIT_EXEMPT_LOOPBACK", "false")
    srv = ShopeventsServer(tmp_path)
    srv.cli("migrate")
    srv.start()
    yield srv
    srv.stop()


def test_a_rate_limited_answer_keeps_the_visitor(
    limited_server: Any, site: Any, page: Any, kit: Any
) -> None:
    # Our form (a host name) works for it too: it is served as http(s)://host:port/ prefixes.
    store = limited_server.create_store(domain=[f"{kit.shop_host}:{site.port}"])
    tracker = identify(page, kit, site, limited_server, store, "limited")

    # Three more requests at once: past the burst, Connectif's script gets a 429 (and never
    # retries it), which must still carry the tracker.
    burst = (
        """for (var i = 0; i < 3; i++) sendEvents([{type: 'search', searchText: 'lamp ' + i}]);"""
    )
    page.goto(
        site.add(
            f"/{store.id}/limited/burst.html", connectif_page(limited_server, store, site, burst)
        )
    )
    got = answers(page, kit, 3)
    limited = [a for a in got if a["status"] == 429]
    assert limited, [a["status"] for a in got]
    assert all(a["body"]["trackerId"] == tracker for a in got), got
    assert stored_tracker(page) == {"id": tracker}

    # Once the limit lets it through, the next page is Ana's.
    url = site.add(
        f"/{store.id}/limited/next.html", connectif_page(limited_server, store, site, PAGE_VISIT)
    )

    def visited() -> bool:
        page.goto(url)
        a = answers(page, kit, 1)[0]
        assert a["body"]["trackerId"] == tracker, a
        return bool(a["status"] == 200)

    kit.wait_for(visited, what="a page visit past the rate limit")
    types = limited_server.activity_types(store, "ana.connectif@example.com")
    assert types[:3] == ["entity-created", "login", "web-page-visited"]
    assert types[-1] == "web-page-visited"
    assert "search" in types  # the searches the limit let through are Ana's too
