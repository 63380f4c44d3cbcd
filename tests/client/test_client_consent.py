"""Consent in real Chromium, on a store page of another origin, against a real
`shopevents serve`: nothing leaves the page before `connectif.shopevents.consent(true)`, the
choice survives a reload, `consent(false)` forgets the tracker; a browser sending Global
Privacy Control is not tracked by a store that honours it until its visitor consents."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

SEND = """<script>connectif.managed.sendEvents([{type: 'page-visit'}],
  {entityInfo: {primaryKey: 'consent@example.com'}, onResponded: function (i) { window.__done = i; }});</script>"""


def send_again(page: Any, email: str) -> None:
    page.evaluate(
        """(email) => { window.__done = null; connectif.managed.sendEvents([{type: 'login'}],
        {entityInfo: {primaryKey: email}, onResponded: function (i) { window.__done = i; }}); }""",
        email,
    )


def test_nothing_is_sent_before_consent_and_the_choice_is_remembered(
    e2e_server: Any, site: Any, page: Any, ingest: Any, kit: Any
) -> None:
    store = e2e_server.create_store(consent_required="on")
    url = site.add(f"/{store.id}/consent.html", kit.html_page(e2e_server.snippet(store.id), SEND))
    page.goto(url)
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="onResponded")
    assert done == {"status": 0, "skipped": True, "consent": False}
    assert ingest.requests == []
    assert page.evaluate("localStorage.getItem('cn_tracker')") is None

    assert page.evaluate("connectif.shopevents.consent(true)") is True
    send_again(page, "consent@example.com")
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="the answer")
    assert done["status"] == 200 and ingest.requests[-1]["consent"] is True
    assert "login" in e2e_server.activity_types(store, "consent@example.com")
    tracker = page.evaluate("JSON.parse(localStorage.getItem('cn_tracker')).id")
    assert tracker == done["trackerId"]

    page.reload()  # the next page remembers the choice
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="onResponded")
    assert done["status"] == 200 and ingest.requests[-1]["consent"] is True

    assert page.evaluate("connectif.shopevents.consent(false)") is False
    assert page.evaluate("localStorage.getItem('cn_tracker')") is None
    sent = len(ingest.requests)
    send_again(page, "consent@example.com")
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="onResponded")
    assert done == {"status": 0, "skipped": True, "consent": False}
    assert len(ingest.requests) == sent
    assert page.errors == []


def test_global_privacy_control_is_honoured_until_the_visitor_consents(
    e2e_server: Any, site: Any, context: Any, kit: Any
) -> None:
    """Chromium sends no GPC of its own: the page gets `navigator.globalPrivacyControl` and
    every request `Sec-GPC: 1`, as a browser with GPC on does."""
    context.set_extra_http_headers({"Sec-GPC": "1"})
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page = context.new_page()
    answers: list[dict[str, Any]] = []
    page.on(
        "response",
        lambda r: answers.append(r.json()) if "scrippet-notification" in r.url else None,
    )
    store = e2e_server.create_store(honour_gpc="on")
    url = site.add(f"/{store.id}/gpc.html", kit.html_page(e2e_server.snippet(store.id), SEND))
    page.goto(url)
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="onResponded", page=page)
    assert done == {"status": 0, "skipped": True, "consent": False}
    assert answers == []
    page.evaluate("connectif.shopevents.consent(true)")
    send_again(page, "gpc@example.com")
    done = kit.wait_for(lambda: page.evaluate("window.__done"), what="the answer", page=page)
    assert done["status"] == 200 and done["results"][0]["status"] == "accepted", done
    assert e2e_server.contact(store, "gpc@example.com") is not None
