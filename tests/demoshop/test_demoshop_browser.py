"""The demo shop in Chromium: a shopper's whole visit, in the JavaScript and the tag variant."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def shop(page: Any, base: str, variant: str, email: str, kit: Any, shots: bool = False) -> str:
    """Home → product → add 2 to cart → search → cart → checkout → confirmation; returns the order id."""
    root = f"{base}/demo/{variant}"

    def step(name: str) -> None:
        page.wait_for_function(
            "connectif.managed.isInitialized && connectif.managed.isInitialized()"
        )
        kit.wait_for(
            lambda: page.evaluate("connectif.shopevents.pending()") == 0, what=f"{name} delivered"
        )
        if shots:
            kit.screenshot(page, f"demo-{variant}-{name}")

    page.goto(root + "/")
    step("home")
    with page.expect_navigation():
        page.click("a[href$='/product/kb-03'] >> nth=0")
    step("product")
    page.fill("#qty", "2")
    with page.expect_navigation(url=root + "/cart"):
        page.click("#add-to-cart")
    step("cart")
    page.fill("form.search input", "mouse")
    with page.expect_navigation(url=root + "/search*"):
        page.press("form.search input", "Enter")
    step("search")
    with page.expect_navigation(url=root + "/cart"):
        page.click("#cart-link")
    with page.expect_navigation(url=root + "/checkout"):
        page.click("#checkout")
    step("checkout")
    page.fill("#email", email)
    page.fill("#name", "Ana")
    page.fill("#surname", "García")
    with page.expect_navigation(url=root + "/confirmation/*"):
        page.click("#place-order")
    step("confirmation")
    return page.inner_text("#order-id")


def test_both_variants_record_the_same_visit(e2e_server: Any, browser: Any, kit: Any) -> None:
    demo = e2e_server.demo_store
    results = {}
    for variant in ("js", "tags"):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        email = f"{variant}-{uuid.uuid4().hex[:6]}@example.com"
        order_id = shop(page, e2e_server.base_url, variant, email, kit, shots=True)
        assert errors == []
        purchase = kit.wait_for(
            lambda order_id=order_id: e2e_server.purchase(demo, order_id), what="the order"
        )
        contact = e2e_server.contact(demo, email)
        results[variant] = {
            "activity": Counter(e2e_server.activity_types(demo, email)),
            "purchase": (
                purchase["totalQuantity"],
                purchase["totalPrice"],
                purchase.get("paymentMethod"),
                sorted((p["productId"], p["quantity"], p["price"]) for p in purchase["products"]),
            ),
            "contact": (contact["_name"], contact["_surname"], contact["_totalPurchases"]),
            "status": page.inner_text("#se-status"),
        }
        ctx.close()

    js, tags = results["js"], results["tags"]
    assert js["purchase"] == tags["purchase"] == (2, 78.0, "Credit card", [("kb-03", 2, 78.0)])
    assert js["contact"] == tags["contact"] == ("Ana", "García", 1)
    assert js["activity"] == tags["activity"]
    for expected in (
        "web-page-visited",
        "product-visited",
        "cart-product-added",
        "search",
        "purchase",
    ):
        assert js["activity"][expected] >= 1, f"{expected} missing: {js['activity']}"
    assert (
        js["activity"]["web-page-visited"] == 7
    )  # home, product, cart, search, cart, checkout, confirmation
    assert "purchase: accepted" in js["status"]
    assert "purchase: accepted" in tags["status"]


@pytest.mark.parametrize("variant", ["js", "tags"])
def test_reloading_the_confirmation_page_is_a_duplicate(
    e2e_server: Any, page: Any, ingest: Any, kit: Any, variant: str
) -> None:
    demo = e2e_server.demo_store
    email = f"reload-{variant}-{uuid.uuid4().hex[:6]}@example.com"
    order_id = shop(page, e2e_server.base_url, variant, email, kit)
    assert ingest.statuses("purchase") == ["accepted"]
    page.reload()
    kit.wait_for(lambda: len(ingest.statuses("purchase")) == 2, what="the reloaded page's answer")
    assert ingest.statuses("purchase") == ["accepted", "duplicate"]
    purchase_requests = [
        r for r in ingest.requests if any(e["type"] == "purchase" for e in r["events"])
    ]
    assert len({r["requestId"] for r in purchase_requests}) == 2, "a reload is a new request"
    assert e2e_server.contact(demo, email)["_totalPurchases"] == 1
    assert e2e_server.purchase(demo, order_id)["totalPrice"] == 78.0
    kit.wait_for(lambda: "purchase: duplicate" in page.inner_text("#se-status"), what="the panel")
    kit.screenshot(page, f"demo-{variant}-confirmation-reloaded")
