"""Nothing is lost and nothing is counted twice: the client script's delivery queue in real
Chromium against a real `shopevents serve` that fails, stops, or is left in a hurry."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.browser

INGEST_GLOB = "**/integration-type/system/scrippet-notification/**"


def buy_script(purchase_id: str, email: str) -> str:
    """A page function buy() that sends one purchase plus a page visit."""
    purchase = {
        "purchaseId": purchase_id,
        "cartId": "cart-" + purchase_id,
        "totalQuantity": 2,
        "totalPrice": 30.5,
        "paymentMethod": "card",
        "products": [
            {
                "productId": "P1",
                "name": "Mug",
                "productDetailUrl": "http://shop.test/p/1",
                "unitPrice": 15.25,
                "quantity": 2,
                "price": 30.5,
            }
        ],
    }
    return f"""<script>
      window.buy = function () {{
        return connectif.managed.sendEvents(
          [{{type: 'purchase', purchase: {json.dumps(purchase)}}}, {{type: 'page-visit'}}],
          {{entityInfo: {{primaryKey: {json.dumps(email)}}},
           onResponded: function (info) {{ (window.__answers = window.__answers || []).push(info); }}}});
      }};
    </script>"""


def queue_length(page: Any) -> int:
    return len(json.loads(page.evaluate("localStorage.getItem('cn_queue') || '[]'")))


def test_purchase_sent_while_the_server_is_stopped_arrives_after_restart(
    private_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = private_server.create_store()
    pid, email = f"ORD-DOWN-{uuid.uuid4().hex[:8]}", "down@example.com"
    url = site.add(
        f"/{store.id}/down.html",
        kit.html_page(private_server.snippet(store.id), buy_script(pid, email)),
    )
    page.goto(url)
    page.wait_for_function("connectif.managed.isInitialized && connectif.managed.isInitialized()")

    private_server.stop()
    page.evaluate("buy()")
    answer = kit.wait_for(
        lambda: page.evaluate("window.__answers && window.__answers[0]"), what="onResponded"
    )
    assert answer["queued"] is True, "the page is told the purchase is safe in the queue"
    assert queue_length(page) == 1
    page.wait_for_timeout(2500)  # a few retries fail while the server is down
    assert queue_length(page) == 1
    kit.screenshot(page, "client-server-stopped")

    private_server.start()
    kit.wait_for(
        lambda: queue_length(page) == 0, timeout=45, what="the queue to drain after the restart"
    )
    assert private_server.purchase(store, pid)["totalPrice"] == 30.5
    assert private_server.contact(store, email)["_totalPurchases"] == 1
    request_ids = {r["requestId"] for r in ingest.requests}
    assert len(request_ids) == 1, "every retry carried the same request id"
    assert len(ingest.requests) >= 2
    assert page.errors == []


def test_a_request_left_in_the_queue_is_sent_by_the_next_page(
    private_server: Any, site: Any, page: Any, kit: Any
) -> None:
    store = private_server.create_store()
    pid, email = f"ORD-NEXT-{uuid.uuid4().hex[:8]}", "next@example.com"
    snippet = private_server.snippet(store.id)
    first = site.add(f"/{store.id}/checkout.html", kit.html_page(snippet, buy_script(pid, email)))
    later = site.add(f"/{store.id}/home.html", kit.html_page(snippet, "<h1>Home</h1>"))
    page.goto(first)
    page.wait_for_function("connectif.managed.isInitialized && connectif.managed.isInitialized()")
    private_server.stop()
    page.evaluate("buy()")
    kit.wait_for(
        lambda: page.evaluate("window.__answers && window.__answers[0]"), what="onResponded"
    )
    page.goto("about:blank")  # the shopper leaves while the server is down
    private_server.start()

    page.goto(later)
    kit.wait_for(
        lambda: private_server.purchase(store, pid),
        timeout=30,
        what="the purchase from the next page",
    )
    kit.wait_for(lambda: queue_length(page) == 0, what="the queue to drain")
    assert private_server.contact(store, email)["_totalPurchases"] == 1


@pytest.mark.parametrize(
    ("status", "headers"), [(502, {}), (503, {"Retry-After": "1"}), (429, {"Retry-After": "1"})]
)
def test_a_failed_answer_is_retried_and_never_double_counts(
    e2e_server: Any,
    site: Any,
    page: Any,
    ingest: Any,
    kit: Any,
    status: int,
    headers: dict[str, str],
) -> None:
    """The request reaches the server, but the answer the browser sees is an error: the
    retry is recognised by its request id and answered `duplicate`."""
    store = e2e_server.create_store()
    pid, email = f"ORD-{status}-{uuid.uuid4().hex[:8]}", f"retry{status}@example.com"
    url = site.add(
        f"/{store.id}/retry.html",
        kit.html_page(e2e_server.snippet(store.id), buy_script(pid, email)),
    )
    calls = {"n": 0}

    def flaky(route: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            route.fetch()  # the server records it...
            route.fulfill(  # ...but the answer is lost on the way back
                status=status,
                headers={
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Expose-Headers": "Retry-After",
                    **headers,
                },
                body="upstream trouble",
            )
        else:
            route.continue_()

    page.route(INGEST_GLOB, flaky)
    page.goto(url)
    page.wait_for_function("connectif.managed.isInitialized && connectif.managed.isInitialized()")
    page.evaluate("buy()")
    kit.wait_for(lambda: ingest.statuses("purchase"), timeout=30, what="the retried answer")
    assert ingest.statuses("purchase") == ["duplicate"]
    assert [a["status"] for a in ingest.answers] == [status, 200]
    assert len({r["requestId"] for r in ingest.requests}) == 1
    assert e2e_server.contact(store, email)["_totalPurchases"] == 1
    kit.wait_for(lambda: queue_length(page) == 0, what="the queue to drain")


def test_a_refused_request_is_not_retried(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store()
    url = site.add(
        f"/{store.id}/refused.html",
        kit.html_page(e2e_server.snippet(store.id), buy_script("ORD-X", "x@example.com")),
    )
    page.route(
        INGEST_GLOB,
        lambda route: route.fulfill(
            status=400,
            headers={"Access-Control-Allow-Origin": "*"},
            body='{"status":400,"code":"invalid_json"}',
        ),
    )
    page.goto(url)
    page.wait_for_function("connectif.managed.isInitialized && connectif.managed.isInitialized()")
    page.evaluate("buy()")
    answer = kit.wait_for(
        lambda: page.evaluate("window.__answers && window.__answers[0]"), what="onResponded"
    )
    assert answer["status"] == 400
    page.wait_for_timeout(2000)
    assert len(ingest.requests) == 1
    assert queue_length(page) == 0


BEACON_PROBE = """<script>
  (function () {
    var send = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = function (url, body) {
      var seen = JSON.parse(sessionStorage.getItem('beacons') || '[]');
      seen.push(JSON.parse(body));
      sessionStorage.setItem('beacons', JSON.stringify(seen));
      return send(url, body);
    };
  })();
</script>"""


@pytest.mark.parametrize("behind_another", [False, True], ids=["keepalive", "beacon"])
def test_a_purchase_sent_right_before_navigating_away_arrives(
    e2e_server: Any, site: Any, page: Any, kit: Any, behind_another: bool
) -> None:
    """The confirmation page sends the purchase and redirects at once. The next page has no
    client script, so only the request made on the way out can deliver it."""
    store = e2e_server.create_store()
    pid, email = f"ORD-LEAVE-{uuid.uuid4().hex[:8]}", "leave@example.com"
    elsewhere = site.add(
        f"/{store.id}/thanks.html", "<!doctype html><title>Thanks</title><h1>Thanks</h1>"
    )
    first = "connectif.managed.sendEvents([{type: 'page-visit'}]);" if behind_another else ""
    body = (
        buy_script(pid, email)
        + f"""<script>
      function leave() {{ {first} buy(); location.href = {json.dumps(elsewhere)}; }}
      if (connectif.managed.isInitialized && connectif.managed.isInitialized()) leave();
      else document.addEventListener('connectif.managed.initialized', leave);
    </script>"""
    )
    page.goto(
        site.add(
            f"/{store.id}/confirm-{behind_another}.html",
            kit.html_page(e2e_server.snippet(store.id), body),
        )
    )
    page.wait_for_url(elsewhere)
    kit.wait_for(
        lambda: e2e_server.purchase(store, pid), timeout=20, what="the purchase sent on the way out"
    )
    assert e2e_server.contact(store, email)["_totalPurchases"] == 1
