"""The client script in real Chromium, on a store page of another origin, against a real
`shopevents serve`: the seed article's call, the API surface, tag mode, tracker and gates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SEED_PURCHASE_ID = "purchase-e3418b5a-8709-4593-a7c8-d8a7f12df737"

# The seed article's example, pasted as it is printed, with its two missing commas restored.
SEED_EXAMPLE = """
var entityInfo = { primaryKey: "jane@example.com", _name: "Jane", _surname: "Doe" };
window.__sent = connectif.managed.sendEvents([
    {
        "type": "purchase",
        "purchase": {
            "cartId": "cart-0098caf9-42f4-44e9-afdd-45eafe892293",
            "totalQuantity": 1,
            "totalPrice": 51.88,
            "products": [{
                "name": "My Product",
                "productDetailUrl": "https://myshop.com/product/details/59a31949a1a562d4979fbca2",
                "productId": "59a31949a1a562d4979fbca2",
                "unitPrice": 51.88,
                "availability": "outofstock",
                "imageUrl": "https://myshop.com/img/59a31949a1a562d4979fbca2.jpg",
                "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
                "priority": 10,
                "rating": 4,
                "tags": ["tag1", "tag2", "tag3"],
                "relatedExternalProductIds": ["59a31953a1a562d4979fbd90", "59a31b2ba1a562d4979fe5b8"],
                "brand": "Jata",
                "publishedAt": "2020-05-03T10:15:00Z",
                "quantity": 1,
                "price": 51.88
            }],
            "purchaseId": "purchase-e3418b5a-8709-4593-a7c8-d8a7f12df737",
            "purchaseDate": "2020-06-26T12:52:51.591Z",
"paymentMethod": "Credit Card",
"source_type": "digital-store",
"source_name": "My online store" } }, { "type": "page-visit" }], { entityInfo });
"""


def test_seed_example_pasted_into_a_page_records_the_purchase_and_the_visit(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store(domain=[kit.shop_host])
    body = f"<h1>Order confirmed</h1><script>{SEED_EXAMPLE}</script>"
    url = site.add(f"/{store.id}/seed.html", kit.html_page(e2e_server.snippet(store.id), body))
    page.goto(url)

    purchase = kit.wait_for(
        lambda: e2e_server.purchase(store, SEED_PURCHASE_ID), what="the seed purchase"
    )
    assert purchase["totalPrice"] == 51.88
    assert purchase["totalQuantity"] == 1
    contact = e2e_server.contact(store, "jane@example.com")
    assert contact["_name"] == "Jane"
    assert contact["_surname"] == "Doe"
    assert contact["_totalPurchases"] == 1
    types = e2e_server.activity_types(store, "jane@example.com")
    assert "purchase" in types
    assert "web-page-visited" in types

    assert ingest.event_types() == [["purchase", "page-visit"]]
    sent = ingest.requests[0]
    assert sent["entityInfo"]["primaryKey"] == "jane@example.com"
    assert re.fullmatch(r"[0-9a-f-]{36}", sent["requestId"])
    assert sent["pageInfo"]["title"] == "Test shop page"
    assert sent["events"][0]["purchase"]["source_type"] == "digital-store"
    kit.wait_for(lambda: ingest.answers, what="the answer in the page")
    assert ingest.statuses("purchase") == ["accepted"]
    assert page.evaluate("window.__sent instanceof Promise")
    assert page.errors == []
    kit.screenshot(page, "client-seed-example")


def test_api_surface_lifecycle_events_promise_onresponded(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store()
    body = """<script>
      function go() {
        window.__order = [];
        window.__promise = connectif.managed.sendEvents([{type: 'page-visit'}], {
          entityInfo: {primaryKey: 'api@example.com'},
          onResponded: function (info) { window.__order.push('responded'); window.__answer = info; }
        });
        window.__promise.then(function () { window.__order.push('resolved'); });
      }
      // The guard recommended in the reference: call now if ready, else wait for the event.
      if (window.connectif && connectif.managed && connectif.managed.isInitialized && connectif.managed.isInitialized()) go();
      else document.addEventListener('connectif.managed.initialized', go);
    </script>"""
    page.goto(site.add(f"/{store.id}/api.html", kit.html_page(e2e_server.snippet(store.id), body)))
    kit.wait_for(lambda: page.evaluate("window.__answer"), what="onResponded")
    assert page.evaluate("connectif.managed.isInitialized()") is True
    assert page.evaluate("window.__lifecycle") == [
        "connectif.loaded",
        "connectif.initialized",
        "connectif.managed.initialized",
        "connectif.managed.tracker_changed",
    ]
    assert page.evaluate("window.__order") == ["resolved", "responded"]
    answer = page.evaluate("window.__answer")
    assert answer["status"] == 200
    assert answer["results"][0]["status"] == "accepted"
    tracker = answer["trackerId"]
    assert json.loads(page.evaluate("localStorage.getItem('cn_tracker')")) == {"id": tracker}
    assert page.evaluate("connectif.managed.getAllEvents()") == [{"type": "page-visit"}]
    assert page.evaluate("connectif.shopevents.pending()") == 0

    # The next page carries the tracker the server gave.
    page.goto(site.add(f"/{store.id}/api2.html", kit.html_page(e2e_server.snippet(store.id), body)))
    kit.wait_for(lambda: page.evaluate("window.__answer"), what="second answer")
    assert ingest.requests[-1]["entityInfo"]["trackerId"] == tracker
    assert page.errors == []


TAG_PAGE = """
<div class="cn_client_info" style="display:none">
  <span class="primary_key">tags@example.com</span><span class="_name">Tia</span>
  <span class="_newsletter_subscription_status">subscribed</span><span class="loyalty_tier">gold</span>
</div>
<div class="cn_cart" style="display:none">
  <span class="cart_id">c-tags-1</span><span class="total_quantity">3</span><span class="total_price">74.70</span>
  <div class="product_basket_item"><span class="quantity">3</span><span class="price">74.70</span>
    <span class="product_id">SKU-42</span><span class="name">Desk lamp</span>
    <span class="url">http://shop.test/p/sku-42</span><span class="unit_price">24.90</span>
    <span class="availability">instock</span><span class="category">/Home/Lighting</span></div>
</div>
<div class="cn_product_visited" style="display:none">
  <span class="product_id">KB-1</span><span class="name">K-100</span><span class="url">http://shop.test/p/kb-1</span>
  <span class="unit_price">39.00</span><span class="unit_price_original">49.00</span><span class="rating_value">4.5</span>
  <span class="review_count">12</span><span class="category">/Computers/Keyboards</span><span class="tag">wireless</span>
  <span class="related_external_product_id">MS-2</span><span class="brand">Keyco</span>
</div>
<div class="cn_product_searched" style="display:none">
  <span class="product_id">MS-2</span><span class="name">Mouse</span><span class="url">http://shop.test/p/ms-2</span><span class="unit_price">19.95</span>
</div>
<div class="cn_product_not_found" style="display:none"><span class="product_id">GONE-9</span></div>
<div class="cn_search" style="display:none"><span class="search_text">wireless keyboard</span></div>
<div class="cn_login" style="display:none"></div>
<div class="cn_register" style="display:none"></div>
<div class="cn_newsletter_subscribe" style="display:none"><span class="email">tags@example.com</span></div>
<div class="cn_purchase" style="display:none">
  <span class="purchase_id">ORD-TAGS-1</span><span class="cart_id">c-tags-0</span><span class="total_quantity">1</span>
  <span class="total_price">39.00</span><span class="purchase_date">2024-09-13T10:49:31Z</span>
  <span class="payment_method">card</span><span class="source_type">digital-store</span><span class="source_name">Web</span>
  <div class="product_basket_item"><span class="quantity">1</span><span class="price">39.00</span>
    <span class="product_id">KB-1</span><span class="name">K-100</span><span class="url">http://shop.test/p/kb-1</span>
    <span class="unit_price">39.00</span></div>
</div>
<span class="cn_page_category" style="display:none">/Computers/Keyboards</span>
<span class="cn_page_tag" style="display:none">sale</span>
<div class="cn_banner_placeholder" id="home-banner-1"></div>
"""


def test_tag_mode_reads_every_tag_and_sends_them_once(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store(tag_mode="on")
    page.goto(
        site.add(f"/{store.id}/tags.html", kit.html_page(e2e_server.snippet(store.id), TAG_PAGE))
    )
    kit.wait_for(lambda: e2e_server.purchase(store, "ORD-TAGS-1"), what="the tag purchase")
    kit.wait_for(lambda: len(ingest.answers) == 1, what="the answer")
    page.wait_for_timeout(300)
    assert len(ingest.requests) == 1, "sent once"
    sent = ingest.requests[0]
    assert [e["type"] for e in sent["events"]] == [
        "product-visited",
        "product-searched",
        "product-not-found",
        "login",
        "register",
        "search",
        "newsletter-subscribe",
        "purchase",
        "page-visit",
    ]
    visited = sent["events"][0]["product"]
    assert visited == {
        "productId": "KB-1",
        "name": "K-100",
        "productDetailUrl": "http://shop.test/p/kb-1",
        "unitPrice": 39,
        "unitPriceOriginal": 49,
        "rating": 4.5,
        "reviewCount": 12,
        "categories": ["/Computers/Keyboards"],
        "tags": ["wireless"],
        "relatedExternalProductIds": ["MS-2"],
        "brand": "Keyco",
    }
    assert sent["events"][2] == {"type": "product-not-found", "productId": "GONE-9"}
    assert sent["events"][5] == {"type": "search", "searchText": "wireless keyboard"}
    assert sent["events"][6] == {"type": "newsletter-subscribe", "email": "tags@example.com"}
    assert sent["events"][7]["purchase"]["source_name"] == "Web"
    assert sent["entityInfo"] == {
        "primaryKey": "tags@example.com",
        "_name": "Tia",
        "_newsletterSubscriptionStatus": "subscribed",
        "loyalty_tier": "gold",
    }
    assert sent["cart"]["cartId"] == "c-tags-1"
    assert sent["cart"]["products"][0]["quantity"] == 3
    assert sent["pageInfo"]["categories"] == ["/Computers/Keyboards"]
    assert sent["pageInfo"]["tags"] == ["sale"]
    assert sent["bannerPlaceholders"] == ["home-banner-1"]
    assert {s for a in ingest.answers for s in [r["status"] for r in a["results"]]} == {"accepted"}

    types = set(e2e_server.activity_types(store, "tags@example.com"))
    for expected in (
        "product-visited",
        "search",
        "login",
        "register",
        "newsletter-subscribe",
        "purchase",
        "web-page-visited",
        "cart-product-added",
    ):
        assert expected in types, f"{expected} missing from {sorted(types)}"

    # sendEvents([]) re-reads the client info and cart tags only.
    page.evaluate("""() => {
      document.querySelector('.cn_cart .total_quantity').textContent = '4';
      document.querySelector('.cn_cart .quantity').textContent = '4';
      document.querySelector('.cn_cart .price').textContent = '99.60';
      document.querySelector('.cn_cart .total_price').textContent = '99.60';
      return connectif.managed.sendEvents([]);
    }""")
    kit.wait_for(lambda: len(ingest.answers) == 2, what="the cart update")
    update = ingest.requests[1]
    assert update["events"] == []
    assert update["cart"]["totalQuantity"] == 4
    assert update["entityInfo"]["primaryKey"] == "tags@example.com"
    # Nothing changed: nothing sent.
    page.evaluate("connectif.managed.sendEvents([])")
    page.wait_for_timeout(500)
    assert len(ingest.requests) == 2
    kit.screenshot(page, "client-tag-mode")


def test_unchanged_entity_and_cart_are_not_resent_across_pages(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store()
    tags = TAG_PAGE.split('<div class="cn_product_visited"')[0]
    body = (
        tags
        + "<script>connectif.managed.sendEvents([], {onResponded: function (i) { window.__done = i; }});</script>"
    )
    url = site.add(f"/{store.id}/sync.html", kit.html_page(e2e_server.snippet(store.id), body))
    page.goto(url)
    kit.wait_for(lambda: page.evaluate("window.__done"), what="first sync")
    assert len(ingest.requests) == 1
    assert ingest.requests[0]["cart"]["cartId"] == "c-tags-1"
    page.goto(url)  # entity gains the tracker: sent again, but without the unchanged cart
    kit.wait_for(lambda: page.evaluate("window.__done"), what="second sync")
    assert len(ingest.requests) == 2
    assert "cart" not in ingest.requests[1]
    page.goto(url)  # nothing new at all
    kit.wait_for(lambda: page.evaluate("window.__done"), what="third sync")
    assert page.evaluate("window.__done.skipped") is True
    assert len(ingest.requests) == 2


def test_tracker_url_parameter_is_taken_and_removed(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store()
    body = "<script>connectif.managed.sendEvents([{type: 'page-visit'}]);</script>"
    url = site.add(f"/{store.id}/landing.html", kit.html_page(e2e_server.snippet(store.id), body))
    forced = "5f1d2c3b4a59687766554433"
    page.goto(url + f"?utm_source=mail&__cn_tracker={forced}&x=1#top")
    kit.wait_for(lambda: ingest.answers, what="the answer")
    assert page.url == url + "?utm_source=mail&x=1#top"
    assert ingest.requests[0]["entityInfo"]["trackerId"] == forced
    stored = json.loads(page.evaluate("localStorage.getItem('cn_tracker')"))
    assert stored == {"id": ingest.answers[0]["trackerId"]}


@pytest.mark.parametrize(
    ("settings", "path", "tracked"),
    [
        ({"domain": ["other.test"]}, "/gate/a.html", False),
        ({"domain": ["shop.test"]}, "/gate/b.html", True),
        ({"tracking": "off"}, "/gate/c.html", False),
        ({"exclude": ["/gate/private/"]}, "/gate/private/d.html", False),
        ({"exclude": ["/gate/private/"]}, "/gate/public/e.html", True),
    ],
)
def test_authorised_domains_tracking_switch_and_exclusions(
    e2e_server: Any,
    site: Any,
    page: Any,
    ingest: Any,
    kit: Any,
    settings: dict[str, Any],
    path: str,
    tracked: bool,
) -> None:
    store = e2e_server.create_store(**settings)
    body = """<script>connectif.managed.sendEvents([{type: 'page-visit'}],
      {entityInfo: {primaryKey: 'gate@example.com'}, onResponded: function (i) { window.__done = i; }});</script>"""
    page.goto(site.add(f"/{store.id}{path}", kit.html_page(e2e_server.snippet(store.id), body)))
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="onResponded")
    assert bool(ingest.requests) is tracked
    assert bool(done.get("skipped")) is not tracked
    assert page.evaluate("localStorage.getItem('cn_queue')") in (None, "[]")
    assert ("web-page-visited" in e2e_server.activity_types(store, "gate@example.com")) is tracked
