"""The client script, its loader snippet and the demo shop, as served by `shopevents serve`."""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from typing import Any

import httpx

from shopevents.client.conf import client_conf
from shopevents.client.script import render_script, script_source
from shopevents.client.snippet import loader_snippet

CONF_RE = re.compile(r"var CONF = (\{.*?\});")


def conf_of(body: str) -> dict[str, Any]:
    m = CONF_RE.search(body)
    assert m, "the served script has no configuration"
    return json.loads(m.group(1))


def test_script_is_served_with_the_store_conf_and_cache_headers(
    e2e_server: Any, e2e_store: Any
) -> None:
    r = httpx.get(f"{e2e_server.base_url}/client-script/{e2e_store.id}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"].startswith("private, max-age=")  # no public_url: by Host
    etag = r.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert conf_of(r.text) == {
        "token": e2e_store.id,
        "baseUrl": e2e_server.base_url + "/",
        "autoSendEventsOnInit": False,
        "webTrackingEnabled": True,
        "allowedDomains": [],
        "allowedDomainRules": [],
        "trackAllByDefault": True,
        "excludeTracking": [],
        "consentRequired": False,
        "honourGpc": False,
    }
    again = httpx.get(
        f"{e2e_server.base_url}/client-script/{e2e_store.id}", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


def test_store_settings_reach_the_served_conf(e2e_server: Any) -> None:
    store = e2e_server.create_store(
        tag_mode="on", tracking="off", domain=["shop.test", "www.shop.test"], exclude=["^/account"]
    )
    body = httpx.get(f"{e2e_server.base_url}/client-script/{store.id}").text
    conf = conf_of(body)
    assert conf["autoSendEventsOnInit"] is True
    assert conf["webTrackingEnabled"] is False
    assert conf["allowedDomainRules"] == ["shop.test", "www.shop.test"]  # our script's
    assert conf["allowedDomains"] == [  # Connectif's form: URL prefixes
        "https://shop.test/",
        "http://shop.test/",
        "https://www.shop.test/",
        "http://www.shop.test/",
    ]
    assert conf["excludeTracking"] == ["^/account"]
    # A page can choose the integration style; the ETag follows the content.
    first = httpx.get(f"{e2e_server.base_url}/client-script/{store.id}")
    js = httpx.get(f"{e2e_server.base_url}/client-script/{store.id}?mode=js")
    assert conf_of(js.text)["autoSendEventsOnInit"] is False
    assert js.headers["etag"] != first.headers["etag"]


def test_a_settings_change_changes_the_etag(e2e_server: Any, e2e_store: Any) -> None:
    before = httpx.get(f"{e2e_server.base_url}/client-script/{e2e_store.id}").headers["etag"]
    e2e_server.update_store(e2e_store.id, tag_mode="on")

    def changed() -> bool:
        return (
            httpx.get(f"{e2e_server.base_url}/client-script/{e2e_store.id}").headers["etag"]
            != before
        )

    deadline = time.monotonic() + 10
    while not changed():
        assert time.monotonic() < deadline, "the script did not follow the store's new tag mode"
        time.sleep(0.2)


def test_unknown_store_gets_404(e2e_server: Any) -> None:
    assert httpx.get(f"{e2e_server.base_url}/client-script/no-such-store").status_code == 404


def test_cli_snippet_loads_the_script_once(e2e_server: Any, e2e_store: Any) -> None:
    snippet = e2e_server.snippet(e2e_store.id)
    assert f'id="__cn_generic_script__{e2e_store.id}"' in snippet
    assert f'"{e2e_server.base_url}/client-script/{e2e_store.id}"' in snippet
    assert '"__cn_client_script_"+i' in snippet
    assert snippet.strip() == loader_snippet(e2e_store.id, e2e_server.base_url)


def test_snippet_and_conf_cannot_break_out_of_their_context() -> None:
    nasty = 'x"</script><script>alert(1)</script>'
    snippet = loader_snippet(nasty, "http://h/</script>")
    assert snippet.count("</script>") == 1
    assert 'id="__cn_generic_script__xscriptscriptalert1script"' in snippet

    class S:
        id = nasty
        domains = ["</script>"]
        tag_mode = False
        tracking_enabled = True
        excluded_paths: list[str] = []

    body = render_script(client_conf(S(), "http://h")).body.decode()
    assert "</script>" not in body
    assert conf_of(body)["token"] == nasty


def test_script_size_is_small() -> None:
    raw = script_source().encode()
    assert len(gzip.compress(raw, 9)) < 10_000, (
        "docs/client-script.md states the gzipped size; keep it small"
    )


# --- the demo shop -------------------------------------------------------------------------


def test_demo_pages_render_for_both_variants(e2e_server: Any) -> None:
    with httpx.Client(base_url=e2e_server.base_url, follow_redirects=True) as c:
        landing = c.get("/demo/")
        assert landing.status_code == 200
        assert "__cn_generic_script__" + e2e_server.demo_store.id in landing.text
        for variant in ("js", "tags"):
            home = c.get(f"/demo/{variant}/")
            assert home.status_code == 200
            assert f"/client-script/{e2e_server.demo_store.id}?mode={variant}" in home.text
            product = c.get(f"/demo/{variant}/product/kb-03")
            assert product.status_code == 200
            if variant == "tags":
                assert 'class="cn_product_visited"' in product.text
                assert '<span class="unit_price">39.0</span>' in product.text
            else:
                assert 'id="demo-data"' in product.text
                assert "cn_product_visited" not in product.text.split("<section")[0]
            missing = c.get(f"/demo/{variant}/product/nope")
            assert missing.status_code == 404
            assert c.get(f"/demo/{variant}/category/computers").status_code == 200
            assert c.get("/demo/img/kb-03.svg").headers["content-type"].startswith("image/svg+xml")


def test_demo_checkout_flow_over_http(e2e_server: Any) -> None:
    with httpx.Client(base_url=e2e_server.base_url, follow_redirects=True) as c:
        r = c.post("/demo/tags/cart", data={"product": "mug-01", "qty": "2"})
        assert r.status_code == 200
        assert '<span class="total_quantity">2</span>' in r.text
        r = c.post("/demo/tags/cart", data={"product": "mug-01", "qty": "0", "action": "set"})
        assert '<span class="total_quantity">0</span>' in r.text, (
            "an emptied cart is still announced"
        )
        c.post("/demo/tags/cart", data={"product": "lamp-02", "qty": "1"})
        bad = c.post("/demo/tags/checkout", data={"email": "not-an-email", "payment": "card"})
        assert bad.status_code == 400
        done = c.post(
            "/demo/tags/checkout",
            data={"email": "flow@example.com", "name": "Flo", "payment": "paypal"},
        )
        assert done.status_code == 200
        assert "/demo/tags/confirmation/ORD-" in str(done.url)
        assert '<span class="purchase_id">ORD-' in done.text
        assert '<span class="primary_key">flow@example.com</span>' in done.text
        assert "cn_cart" not in done.text.split("<section")[1], (
            "the bought cart is not announced again"
        )


def test_demo_escapes_what_it_is_sent(e2e_server: Any) -> None:
    payload = "<script>alert(1)</script>"
    with httpx.Client(base_url=e2e_server.base_url) as c:
        for variant in ("js", "tags"):
            r = c.get(f"/demo/{variant}/search", params={"q": payload})
            assert payload not in r.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
            r = c.get(f"/demo/{variant}/product/{payload}")
            assert payload not in r.text


def test_demo_ignores_a_tampered_cookie(e2e_server: Any) -> None:
    forged = {
        "cart": {"id": "cart-<script>", "lines": [["kb-03", 10**9]]},
        "customer": {"email": "<b>@x.y", "name": "<script>"},
        "flash": ["<script>"],
    }
    value = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    for cookie in (value, "%%%", "e30", "x" * 5000):
        r = httpx.get(f"{e2e_server.base_url}/demo/tags/cart", cookies={"se_demo": cookie})
        assert r.status_code == 200
        assert "cn_cart" not in r.text.split("<section")[1]
        assert "<script>alert" not in r.text
