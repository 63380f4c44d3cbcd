"""Parity with real Connectif integrations, over real HTTP on both backends: newsletter
sign-ups and integrated forms identify the contact they name, and the events Connectif's
script sends for its pop-ups and web contents are accepted and recorded."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import StoreInfo, ingest_path


def post(http: httpx.Client, store: StoreInfo, body: dict[str, Any]) -> dict[str, Any]:
    r = http.post(ingest_path(store.id), json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def contact(http: httpx.Client, store: StoreInfo, email: str) -> dict[str, Any] | None:
    r = http.get(f"/api/contacts/{email}", headers=store.auth)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def activity(http: httpx.Client, store: StoreInfo, email: str) -> list[dict[str, Any]]:
    r = http.get(f"/api/contacts/{email}/activity", headers=store.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return list(reversed(items))  # oldest first


def types(items: list[dict[str, Any]]) -> list[str]:
    return [a["type"] for a in items]


def test_newsletter_subscribe_identifies_the_anonymous_visitor_and_subscribes(
    http: httpx.Client, store: StoreInfo
) -> None:
    first = post(http, store, {"events": [{"type": "page-visit"}]})
    tracker = first["trackerId"]
    out = post(
        http,
        store,
        {
            "events": [{"type": "newsletter-subscribe", "email": " Ana.Garcia@Example.com "}],
            "entityInfo": {"trackerId": tracker},
        },
    )
    assert out["trackerId"] == tracker
    assert out["results"][0]["status"] == "accepted" and out["results"][0]["warnings"] == []
    ana = contact(http, store, "ana.garcia@example.com")
    assert ana is not None
    assert ana["_newsletterSubscriptionStatus"] == "subscribed"
    got = activity(http, store, "ana.garcia@example.com")
    # the anonymous visit before the sign-up is the same contact's history
    assert types(got) == [
        "entity-created",
        "web-page-visited",
        "entity-identified",
        "newsletter-subscribe",
    ]
    assert got[-1]["data"] == {"email": "ana.garcia@example.com"}


def test_newsletter_subscribe_merges_into_a_known_contact_and_changes_its_status(
    http: httpx.Client, store: StoreInfo
) -> None:
    r = http.patch(
        "/api/contacts/bob@example.com",
        headers=store.auth,
        json={"_name": "Bob", "_newsletterSubscriptionStatus": "unsubscribed"},
    )
    assert r.status_code in (200, 201), r.text
    tracker = post(http, store, {"events": [{"type": "page-visit"}]})["trackerId"]
    post(
        http,
        store,
        {
            "events": [{"type": "newsletter-subscribe", "email": "bob@example.com"}],
            "entityInfo": {"trackerId": tracker},
        },
    )
    bob = contact(http, store, "bob@example.com")
    assert bob is not None
    assert bob["_newsletterSubscriptionStatus"] == "subscribed"
    assert bob["_name"] == "Bob"
    got = types(activity(http, store, "bob@example.com"))
    assert "entity-merged" in got and "web-page-visited" in got and "newsletter-subscribe" in got
    # the tracker now belongs to Bob: a later anonymous page is his
    post(
        http,
        store,
        {
            "events": [{"type": "search", "searchText": "lamp"}],
            "entityInfo": {"trackerId": tracker},
        },
    )
    assert types(activity(http, store, "bob@example.com"))[-1] == "search"


def test_newsletter_without_email_subscribes_the_requests_contact(
    http: httpx.Client, store: StoreInfo
) -> None:
    post(
        http,
        store,
        {
            "events": [{"type": "newsletter-subscribe"}],
            "entityInfo": {"primaryKey": "carla@example.com"},
        },
    )
    carla = contact(http, store, "carla@example.com")
    assert carla is not None and carla["_newsletterSubscriptionStatus"] == "subscribed"


def test_newsletter_with_a_bad_email_stays_on_the_visitor_with_a_warning(
    http: httpx.Client, store: StoreInfo
) -> None:
    out = post(http, store, {"events": [{"type": "newsletter-subscribe", "email": "not-an-email"}]})
    r = out["results"][0]
    assert r["status"] == "accepted"
    assert [(w["code"], w["path"]) for w in r["warnings"]] == [("invalid_email", "/events/0/email")]
    # recorded on the visitor's (anonymous) contact: it shows once the visitor logs in
    post(
        http,
        store,
        {
            "events": [{"type": "login"}],
            "entityInfo": {"trackerId": out["trackerId"], "primaryKey": "gil@example.com"},
        },
    )
    got = activity(http, store, "gil@example.com")
    assert types(got)[:2] == ["entity-created", "newsletter-subscribe"]
    assert got[1]["data"] == {"email": "not-an-email"}


def test_form_with_primary_key_field_is_recorded_on_the_typed_email(
    http: httpx.Client, store: StoreInfo
) -> None:
    # The tracker belongs to Ana (identified); the visitor then types Dan's address into an
    # integrated form, which Connectif's script sends on the next page without primaryKey.
    tracker = post(
        http,
        store,
        {"events": [{"type": "page-visit"}], "entityInfo": {"primaryKey": "ana@example.com"}},
    )["trackerId"]
    form = {
        "type": "form-submitted",
        "formId": "64a0c1d2e3f4a5b6c7d8e9f0",
        "primaryKeyField": "email",
        "payload": {"email": "Dan@Example.com", "interests": ["tech"]},
    }
    out = post(
        http,
        store,
        {"events": [form, {"type": "page-visit"}], "entityInfo": {"trackerId": tracker}},
    )
    assert out["trackerId"] == tracker
    assert [r["status"] for r in out["results"]] == ["accepted", "accepted"]
    dan = activity(http, store, "dan@example.com")
    assert types(dan) == ["entity-created", "web-form-submitted", "web-page-visited"]
    assert dan[1]["data"]["formId"] == form["formId"]
    assert dan[1]["data"]["primaryKeyField"] == "email"
    assert "web-form-submitted" not in types(activity(http, store, "ana@example.com"))


def test_form_identifies_an_anonymous_visitor(http: httpx.Client, store: StoreInfo) -> None:
    tracker = post(http, store, {"events": [{"type": "page-visit"}]})["trackerId"]
    post(
        http,
        store,
        {
            "events": [
                {
                    "type": "form-submitted",
                    "formId": "f-1",
                    "primaryKeyField": "mail",
                    "payload": {"mail": "eva@example.com"},
                }
            ],
            "entityInfo": {"trackerId": tracker},
        },
    )
    assert types(activity(http, store, "eva@example.com")) == [
        "entity-created",
        "web-page-visited",
        "entity-identified",
        "web-form-submitted",
    ]


def test_form_whose_primary_key_is_missing_or_not_an_email_is_kept_with_a_warning(
    http: httpx.Client, store: StoreInfo
) -> None:
    events = [
        {"type": "form-submitted", "formId": "f", "primaryKeyField": "email", "payload": {}},
        {
            "type": "form-submitted",
            "formId": "f",
            "primaryKeyField": "a/b",
            "payload": {"a/b": 42},
        },
    ]
    out = post(http, store, {"events": events})
    assert [r["status"] for r in out["results"]] == ["accepted", "accepted"]
    assert [(w["code"], w["path"]) for r in out["results"] for w in r["warnings"]] == [
        ("invalid_email", "/events/0/payload/email"),
        ("invalid_email", "/events/1/payload/a~1b"),
    ]


def test_modal_and_web_content_events_are_accepted_and_recorded(
    http: httpx.Client, store: StoreInfo
) -> None:
    modal = {"contentId": "c-1", "workflowDefinitionId": "w-1", "timerSeconds": 5}
    out = post(
        http,
        store,
        {
            "events": [
                {"type": "modal-opened", "modalOpened": modal},
                {"type": "modal-closed", "modalClosed": modal},
                {
                    "type": "web-content-opened",
                    "contentId": "wc-1",
                    "webContentTypeId": "slide-in",
                    "workflowDefinitionId": "w-2",
                },
            ],
            "entityInfo": {"primaryKey": "fay@example.com"},
        },
    )
    assert [(r["type"], r["status"], r["warnings"]) for r in out["results"]] == [
        ("modal-opened", "accepted", []),
        ("modal-closed", "accepted", []),
        ("web-content-opened", "accepted", []),
    ]
    got = activity(http, store, "fay@example.com")
    assert types(got)[-3:] == ["web-modal-opened", "web-modal-closed", "web-content-opened"]
    assert got[-3]["data"] == {"modal": modal}
    assert got[-1]["data"] == {
        "contentId": "wc-1",
        "webContentTypeId": "slide-in",
        "workflowDefinitionId": "w-2",
    }
    # a malformed one is rejected on its own, as any event
    bad = post(http, store, {"events": [{"type": "modal-closed", "modalClosed": "x"}]})
    assert bad["results"][0]["code"] == "not_an_object"


def test_an_event_email_wins_over_primary_key_without_taking_its_fields(
    http: httpx.Client, store: StoreInfo
) -> None:
    # Logged in as Hal (cn_client_info on every page), the visitor subscribes Ivy's address.
    out = post(
        http,
        store,
        {
            "events": [{"type": "newsletter-subscribe", "email": "ivy@example.com"}],
            "entityInfo": {"primaryKey": "hal@example.com", "_name": "Hal"},
        },
    )
    assert out["results"][0]["status"] == "accepted"
    ivy = contact(http, store, "ivy@example.com")
    assert ivy is not None
    assert ivy["_newsletterSubscriptionStatus"] == "subscribed"
    assert ivy.get("_name") is None  # Hal's name stays Hal's
    assert types(activity(http, store, "ivy@example.com")) == [
        "entity-created",
        "newsletter-subscribe",
    ]
