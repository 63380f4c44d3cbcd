"""Server-side custom events on both backends, through real HTTP: custom event types (REST),
the WordPress-style post to the ingest URL (`?eventId=`, a plain JSON body) mapped through
its type onto a contact, Connectif's REST forms (by alias, by event id, createContact),
rejections with their raw bodies in quarantine, and retries with a requestId."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopevents.domain import custom_events
from shopevents.storage.database import Database
from tests.conftest import ROOT, StoreInfo, ingest_path

WP_TYPE = "5f1d2c3b4a59687766554433"


def make_type(http: httpx.Client, store: StoreInfo, **body: Any) -> dict[str, Any]:
    r = http.post("/api/custom-event-types", json=body, headers=store.auth)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def rows(db: Database, sql: str, params: tuple[Any, ...]) -> list[Any]:
    conn = db.connect()
    try:
        return conn.all(sql, params)
    finally:
        conn.close()


def quarantined(db: Database, store_id: str) -> list[tuple[str, bytes]]:
    return [
        (r[0], bytes(r[1]))
        for r in rows(
            db, "SELECT code, raw FROM quarantine WHERE store_id = ? ORDER BY id", (store_id,)
        )
    ]


def activity(http: httpx.Client, store: StoreInfo, email: str) -> list[dict[str, Any]]:
    r = http.get(f"/api/contacts/{email}/activity", headers=store.auth)
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


# --- plain rules ---------------------------------------------------------------------------


def test_pointers_follow_rfc_6901() -> None:
    doc = {"a/b": {"m~n": [10, {"x": "y"}]}, "": 1}
    assert custom_events.parse_pointer("/a~1b/m~0n/1/x") == ["a/b", "m~n", "1", "x"]
    assert custom_events.resolve(doc, custom_events.parse_pointer("/a~1b/m~0n/1/x")) == "y"
    assert custom_events.resolve(doc, custom_events.parse_pointer("/")) == 1
    for missing in ("/a~1b/m~0n/01", "/a~1b/m~0n/-", "/nope", "/a~1b/m~0n/0/x"):
        assert custom_events.resolve(doc, custom_events.parse_pointer(missing)) is (
            custom_events._MISSING
        )
    for bad in ("email", "/a~2", "/a~"):
        with pytest.raises(custom_events.PointerError):
            custom_events.parse_pointer(bad)


def test_definition_problems_name_their_paths() -> None:
    d, problems = custom_events.check_definition(
        {"alias": "has space", "contactEmail": "email", "payload": {"site": 3, "ok": "/x"}}, 0
    )
    assert d is None
    assert [(p["path"], p["code"]) for p in problems] == [
        ("/alias", "invalid_value"),
        ("/contactEmail", "invalid_value"),
        ("/payload/site", "invalid_type"),
    ]
    assert "received 'email'" in problems[1]["message"]
    d, problems = custom_events.check_definition({"alias": "a", "contactEmail": "/e"}, 0)
    assert problems == [] and d is not None and len(d.id) == 24 and d.payload is None


# --- types over REST -----------------------------------------------------------------------


def test_types_create_list_get_delete(http: httpx.Client, store: StoreInfo) -> None:
    t = make_type(
        http,
        store,
        eventId=WP_TYPE,
        alias="wp-form",
        contactEmail="/email",
        payload={"site": "/site", "lang": "/lang"},
    )
    assert t["id"] == WP_TYPE and t["payload"] == {"site": "/site", "lang": "/lang"}
    minted = make_type(http, store, alias="newsletter", contactEmail="/contact/email")
    assert len(minted["id"]) == 24 and minted["payload"] is None
    listed = http.get("/api/custom-event-types", headers=store.auth).json()["items"]
    assert [x["alias"] for x in listed] == ["newsletter", "wp-form"]
    assert http.get(f"/api/custom-event-types/{WP_TYPE}", headers=store.auth).json() == t

    again = http.post(
        "/api/custom-event-types",
        json={"alias": "wp-form", "contactEmail": "/e"},
        headers=store.auth,
    )
    assert again.status_code == 409 and again.json()["code"] == "custom_event_type_conflict"
    assert again.json()["errors"][0]["path"] == "/alias"
    bad = http.post(
        "/api/custom-event-types",
        json={"alias": "x", "contactEmail": "/e", "payload": {"f": "no-slash"}},
        headers=store.auth,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    assert bad.json()["validationErrors"][0]["path"] == "/payload/f"

    assert (
        http.delete(f"/api/custom-event-types/{minted['id']}", headers=store.auth).status_code
        == 204
    )
    gone = http.delete(f"/api/custom-event-types/{minted['id']}", headers=store.auth)
    assert gone.status_code == 404
    assert (
        http.get(f"/api/custom-event-types/{minted['id']}", headers=store.auth).status_code == 404
    )
    assert http.get("/api/custom-event-types", headers=store.auth.__class__()).status_code == 401


# --- the ingest post -----------------------------------------------------------------------


def test_wordpress_post_creates_the_contact_and_records_the_payload(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    make_type(
        http,
        store,
        eventId=WP_TYPE,
        alias="wp-form",
        contactEmail="/email",
        payload={"site": "/site", "lang": "/lang"},
    )
    url = f"{ingest_path(store.id)}?eventId={WP_TYPE}"
    body = {"email": "X@Y.com", "site": "https://shop", "lang": "es", "extra": 1}
    r = http.post(url, json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert len(answer["trackerId"]) == 24
    assert answer["results"] == [
        {"index": 0, "type": "custom", "status": "accepted", "warnings": []}
    ]
    assert answer["customEvent"]["contactCreated"] is True
    assert answer["customEvent"]["payload"] == {"site": "https://shop", "lang": "es"}

    contact = http.get("/api/contacts/x@y.com", headers=store.auth).json()
    assert contact["_email"] == "x@y.com" and contact["id"] == answer["customEvent"]["contactId"]
    items = activity(http, store, "x@y.com")
    custom = [i for i in items if i["type"] == "custom-event"]
    assert len(custom) == 1
    assert custom[0]["data"]["eventId"] == WP_TYPE
    assert custom[0]["data"]["payload"] == {"site": "https://shop", "lang": "es"}
    assert any(i["type"] == "entity-created" for i in items)
    stored = rows(
        db,
        "SELECT type, status, contact_id FROM events WHERE store_id = ?",
        (store.id,),
    )
    assert [tuple(s) for s in stored] == [("custom", "accepted", contact["id"])]

    # A second post for the same e-mail lands on the same contact, with the same tracker.
    r2 = http.post(url, json={"email": "x@y.com", "site": "https://shop/2", "lang": "en"})
    assert r2.status_code == 200
    assert r2.json()["customEvent"]["contactCreated"] is False
    assert r2.json()["customEvent"]["contactId"] == contact["id"]
    assert r2.json()["trackerId"] == answer["trackerId"]
    assert len([i for i in activity(http, store, "x@y.com") if i["type"] == "custom-event"]) == 2
    assert quarantined(db, store.id) == []


def test_whole_body_is_the_payload_without_a_mapping(http: httpx.Client, store: StoreInfo) -> None:
    t = make_type(http, store, alias="signup", contactEmail="/contact/mail")
    body = {"contact": {"mail": "ana@shop.example"}, "amount": 12.50, "tags": ["a", "b"]}
    r = http.post(f"{ingest_path(store.id)}?eventId={t['id']}", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["customEvent"]["payload"] == body


def test_identifies_an_anonymous_visitor_named_by_a_browser_request(
    http: httpx.Client, store: StoreInfo
) -> None:
    """A contact the browser made identified is the one the server post finds."""
    t = make_type(http, store, alias="wp", contactEmail="/email")
    browser = http.post(
        ingest_path(store.id),
        content=b'{"entityInfo": {"primaryKey": "bea@shop.example"}, "events": [{"type": "page-visit"}]}',
        headers={"Content-Type": "text/plain"},
    ).json()
    r = http.post(f"{ingest_path(store.id)}?eventId={t['id']}", json={"email": "bea@shop.example"})
    assert r.json()["customEvent"]["contactCreated"] is False
    assert r.json()["trackerId"] == browser["trackerId"]


@pytest.mark.parametrize(
    ("query", "body", "status", "code", "path"),
    [
        (
            "eventId=000000000000000000000000",
            b'{"email": "a@b.co"}',
            404,
            "unknown_custom_event_type",
            "/eventId",
        ),
        (
            f"eventId={WP_TYPE}",
            b'{"email": "a@b.co", "site": "s"}',
            422,
            "unmappable_custom_event",
            "/lang",
        ),
        (
            f"eventId={WP_TYPE}",
            b'{"email": "not-an-email", "site": "s", "lang": "es"}',
            422,
            "unmappable_custom_event",
            "/email",
        ),
        (f"eventId={WP_TYPE}", b'["a@b.co"]', 422, "unmappable_custom_event", ""),
        (f"eventId={WP_TYPE}", b'{"email": "a@b.co" "site": "s"}', 400, "invalid_json", ""),
    ],
)
def test_unusable_posts_are_rejected_and_quarantined(
    http: httpx.Client,
    store: StoreInfo,
    db: Database,
    query: str,
    body: bytes,
    status: int,
    code: str,
    path: str,
) -> None:
    make_type(
        http,
        store,
        eventId=WP_TYPE,
        alias="wp-form",
        contactEmail="/email",
        payload={"site": "/site", "lang": "/lang"},
    )
    r = http.post(
        f"{ingest_path(store.id)}?{query}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    answer = r.json()
    assert answer["code"] == code and len(answer["trackerId"]) == 24
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["path"] == path == answer["errors"][0]["path"]
    assert answer["message"]
    assert quarantined(db, store.id) == [(code, body)]
    assert isinstance(answer["quarantineId"], int)
    assert rows(db, "SELECT count(*) FROM contacts WHERE store_id = ?", (store.id,))[0][0] == 0
    assert rows(db, "SELECT count(*) FROM events WHERE store_id = ?", (store.id,))[0][0] == 0


def test_a_retried_post_with_a_request_id_is_recorded_once(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    t = make_type(http, store, alias="wp", contactEmail="/email")
    url = f"{ingest_path(store.id)}?eventId={t['id']}&requestId=req-1"
    first = http.post(url, json={"email": "c@d.co"})
    again = http.post(url, json={"email": "c@d.co"})
    assert first.status_code == again.status_code == 200
    assert first.json()["results"][0]["status"] == "accepted"
    assert again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["duplicateRequest"] is True
    assert again.json()["trackerId"] == first.json()["trackerId"]
    body_key = http.post(
        f"{ingest_path(store.id)}?eventId={t['id']}", json={"email": "c@d.co", "requestId": "req-2"}
    )
    body_again = http.post(
        f"{ingest_path(store.id)}?eventId={t['id']}", json={"email": "c@d.co", "requestId": "req-2"}
    )
    assert body_key.json()["results"][0]["status"] == "accepted"
    assert body_again.json()["results"][0]["status"] == "duplicate"
    n = rows(db, "SELECT count(*) FROM events WHERE store_id = ?", (store.id,))[0][0]
    assert n == 2
    # Without a requestId a repeated post is another event, as for the browser's events.
    http.post(f"{ingest_path(store.id)}?eventId={t['id']}", json={"email": "c@d.co"})
    http.post(f"{ingest_path(store.id)}?eventId={t['id']}", json={"email": "c@d.co"})
    assert rows(db, "SELECT count(*) FROM events WHERE store_id = ?", (store.id,))[0][0] == 4


# --- Connectif's REST form -----------------------------------------------------------------


def test_rest_by_alias_with_and_without_create_contact(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    t = make_type(http, store, alias="form-sent", contactEmail="/email", payload={"f": "/f"})
    refused = http.post(
        "/api/custom-events/alias/form-sent",
        json={"email": "new@shop.example", "payload": {"f": 1}, "createContact": False},
        headers=store.auth,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "contact_not_found"
    assert refused.json()["errors"][0]["path"] == "/email"
    assert http.get("/api/contacts/new@shop.example", headers=store.auth).status_code == 404

    made = http.post(
        "/api/custom-events/alias/form-sent",
        json={"email": "New@shop.example", "payload": {"f": 1, "g": [1, 2]}, "createContact": True},
        headers=store.auth,
    )
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["status"] == "accepted" and out["contactCreated"] is True
    assert out["eventId"] == t["id"] and out["alias"] == "form-sent"
    assert out["payload"] == {"f": 1, "g": [1, 2]}

    # createContact false, contact now known: recorded (also as a query parameter).
    known = http.post(
        "/api/custom-events/alias/form-sent?createContact=false",
        json={"email": "new@shop.example", "payload": {"f": 2}},
        headers=store.auth,
    )
    assert known.status_code == 201 and known.json()["contactCreated"] is False
    # Connectif's flat body is mapped through the type; by event id too.
    flat = http.post(
        f"/api/custom-events/event-id/{t['id']}",
        json={"email": "new@shop.example", "f": 3, "other": True},
        headers=store.auth,
    )
    assert flat.status_code == 201 and flat.json()["payload"] == {"f": 3}
    items = activity(http, store, "new@shop.example")
    assert [i["data"]["payload"] for i in items if i["type"] == "custom-event"] == [
        {"f": 3},
        {"f": 2},
        {"f": 1, "g": [1, 2]},
    ]

    unknown = http.post(
        "/api/custom-events/alias/nope", json={"email": "a@b.co", "payload": {}}, headers=store.auth
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_custom_event_type"
    unmapped = http.post(
        "/api/custom-events/alias/form-sent", json={"email": "a@b.co"}, headers=store.auth
    )
    assert unmapped.status_code == 422 and unmapped.json()["code"] == "unmappable_custom_event"
    assert unmapped.json()["errors"][0]["path"] == "/f"
    bad_email = http.post(
        "/api/custom-events/alias/form-sent",
        json={"email": "nope", "payload": {}},
        headers=store.auth,
    )
    assert bad_email.status_code == 422 and bad_email.json()["errors"][0]["path"] == "/email"
    not_json = http.post("/api/custom-events/alias/form-sent", content=b"{nope", headers=store.auth)
    assert not_json.status_code == 400 and not_json.json()["code"] == "invalid_json"
    no_key = http.post(
        "/api/custom-events/alias/form-sent", json={"email": "a@b.co", "payload": {}}
    )
    assert no_key.status_code == 401
    # The REST API does not quarantine: its answer is the client's error.
    assert quarantined(db, store.id) == []


def test_rest_request_id_makes_a_retry_harmless(http: httpx.Client, store: StoreInfo) -> None:
    make_type(http, store, alias="a", contactEmail="/email")
    body = {"email": "r@s.co", "payload": {"n": 1}, "requestId": "k-1"}
    first = http.post("/api/custom-events/alias/a", json=body, headers=store.auth)
    again = http.post("/api/custom-events/alias/a", json=body, headers=store.auth)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["status"] == "duplicate" and again.json()["duplicateRequest"] is True
    assert len([i for i in activity(http, store, "r@s.co") if i["type"] == "custom-event"]) == 1


# --- the CLI -------------------------------------------------------------------------------


def test_cli_create_list_delete(http: httpx.Client, store: StoreInfo, db: Database) -> None:
    from click.testing import CliRunner

    from shopevents.cli import main

    runner = CliRunner()

    def cli(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(main, ["--database", db.url, "custom-events", *args])
        assert (result.exit_code == 0) == ok, (args, result.output)
        return result

    made = json.loads(
        cli(
            "create",
            "--store",
            store.id,
            "--alias",
            "wp-form",
            "--contact-email",
            "/email",
            "--event-id",
            WP_TYPE,
            "--field",
            "site=/site",
            "--json",
        ).output
    )
    assert made["id"] == WP_TYPE and made["payload"] == {"site": "/site"}
    r = http.post(
        f"{ingest_path(store.id)}?eventId={WP_TYPE}", json={"email": "z@y.co", "site": "s"}
    )
    assert r.status_code == 200 and r.json()["customEvent"]["payload"] == {"site": "s"}

    dup = cli(
        "create", "--store", store.id, "--alias", "wp-form", "--contact-email", "/e", ok=False
    )
    assert "alias 'wp-form'" in dup.output
    bad = cli("create", "--store", store.id, "--alias", "x", "--contact-email", "email", ok=False)
    assert "--contact-email: Expected an RFC 6901 JSON pointer" in bad.output
    assert "Traceback" not in bad.output
    bad_field = cli(
        "create",
        "--store",
        store.id,
        "--alias",
        "x",
        "--contact-email",
        "/e",
        "--field",
        "nope",
        ok=False,
    )
    assert "NAME=/pointer" in bad_field.output
    assert "no store has the id or name 'nope'" in cli("list", "--store", "nope", ok=False).output

    listed = json.loads(cli("list", "--store", store.id, "--json").output)
    assert [t["alias"] for t in listed] == ["wp-form"]
    assert "wp-form" in cli("list", "--store", store.id).output
    assert "deleted" in cli("delete", WP_TYPE, "--store", store.id).output
    assert "no custom event type" in cli("delete", WP_TYPE, "--store", store.id, ok=False).output
    assert "no custom event types" in cli("list", "--store", store.id).output


# --- the documented examples ---------------------------------------------------------------


def section(doc: str, heading: str) -> str:
    """The heading's section: up to the next heading of its level or above (outside code)."""
    lines = (ROOT / doc).read_text().splitlines(keepends=True)
    start = lines.index(heading + "\n")
    level = len(heading.split(" ")[0])
    fenced = False
    out = [lines[start]]
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            fenced = not fenced
        head = line.split(" ")[0]
        if not fenced and head and set(head) == {"#"} and len(head) <= level:
            break
        out.append(line)
    return "".join(out)


@pytest.mark.parametrize(
    ("doc", "heading"),
    [
        ("docs/events.md", "#### Server-side custom events"),
        ("docs/http-api.md", "### Custom event types and server-side custom events"),
    ],
)
def test_documented_examples_get_the_answers_shown(doc: str, heading: str, tmp_path: Path) -> None:
    """The curl examples of the docs' custom-event sections, run in order against the real
    app on a fresh database, get the statuses and answers shown."""
    from tests.docs.test_docs_http import Walk, examples, matches

    page = tmp_path / "section.md"
    page.write_text(section(doc, heading))
    shown = examples(str(page))
    assert len(shown) >= 3 and all(answer for _, answer in shown)
    walk = Walk(tmp_path)
    try:
        for command, answer in shown:
            assert answer is not None
            status, body = walk.run(command)
            want_status, want = answer
            assert status == want_status, f"{doc}: `{command}` got {status}: {body}"
            assert matches(want, json.loads(body)), f"{doc}: `{command}` shows {want}, got {body}"
    finally:
        walk.close()


# --- the dashboard -------------------------------------------------------------------------


def test_dashboard_lists_creates_and_deletes_types(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    from tests.dashboard.support import add_user, login

    add_user(db)
    csrf = login(http)
    base = f"/stores/{store.id}/custom-events"
    empty = http.get(base)
    assert empty.status_code == 200 and "No custom event types" in empty.text
    assert f"scrippet-notification/{store.id}?eventId=" in empty.text

    bad = http.post(
        base,
        data={"csrf": csrf, "alias": "<b>x</b>", "contact_email": "email", "fields": "site"},
    )
    assert bad.status_code == 422
    assert "Payload fields, line 1: expected name=/pointer" in bad.text
    assert "E-mail pointer: Expected an RFC 6901 JSON pointer" in bad.text
    assert "&lt;b&gt;x&lt;/b&gt;" in bad.text and "<b>x</b>" not in bad.text

    made = http.post(
        base,
        data={
            "csrf": csrf,
            "alias": "wp-form",
            "contact_email": "/email",
            "event_id": WP_TYPE,
            "fields": "site=/site\n\nlang=/lang\n",
        },
    )
    assert made.status_code == 303
    listed = http.get(base).text
    assert "wp-form" in listed and WP_TYPE in listed and "lang = /lang" in listed
    stored = http.get(f"/api/custom-event-types/{WP_TYPE}", headers=store.auth).json()
    assert stored["payload"] == {"site": "/site", "lang": "/lang"}

    taken = http.post(
        base, data={"csrf": csrf, "alias": "wp-form", "contact_email": "/e", "fields": ""}
    )
    assert taken.status_code == 409 and "alias" in taken.text
    forged = http.post(f"{base}/{WP_TYPE}/delete", data={"csrf": "forged"})
    assert forged.status_code == 403
    gone = http.post(f"{base}/{WP_TYPE}/delete", data={"csrf": csrf})
    assert gone.status_code == 303
    assert http.get(f"/api/custom-event-types/{WP_TYPE}", headers=store.auth).status_code == 404
    assert "No custom event types" in http.get(base).text


def test_a_quarantined_post_is_replayed_once_its_type_exists(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    from click.testing import CliRunner

    from shopevents.cli import main

    url = f"{ingest_path(store.id)}?eventId={WP_TYPE}"
    refused = http.post(url, json={"email": "late@shop.example", "site": "s"})
    assert refused.status_code == 404
    qid = refused.json()["quarantineId"]

    def replay() -> list[dict[str, Any]]:
        result = CliRunner().invoke(
            main,
            ["--database", db.url, "quarantine", "replay", str(qid), "--store", store.id, "--json"],
        )
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines() if line.strip()]

    # Still no type: still rejected, with the same code.
    assert replay()[0]["status"] == "rejected"
    assert quarantined(db, store.id)[0][0] == "unknown_custom_event_type"
    make_type(http, store, eventId=WP_TYPE, alias="wp", contactEmail="/email", payload={"s": "/x"})
    # The type cannot map it: rejected with the mapping's error.
    assert replay()[0]["status"] == "rejected"
    assert quarantined(db, store.id)[0][0] == "unmappable_custom_event"
    http.delete(f"/api/custom-event-types/{WP_TYPE}", headers=store.auth)
    make_type(
        http, store, eventId=WP_TYPE, alias="wp", contactEmail="/email", payload={"s": "/site"}
    )
    assert replay()[0]["status"] == "accepted"
    items = activity(http, store, "late@shop.example")
    assert [i["data"]["payload"] for i in items if i["type"] == "custom-event"] == [{"s": "s"}]
    assert replay()[0]["status"] == "already"


def test_the_contact_sheet_shows_the_custom_event(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    from tests.dashboard.support import add_user, login

    make_type(http, store, eventId=WP_TYPE, alias="wp-form", contactEmail="/email")
    posted = http.post(
        f"{ingest_path(store.id)}?eventId={WP_TYPE}",
        json={"email": "sheet@shop.example", "note": "<script>x</script>"},
    ).json()
    add_user(db)
    login(http)
    sheet = http.get(f"/stores/{store.id}/contacts/{posted['customEvent']['contactId']}")
    assert sheet.status_code == 200
    assert "Custom event" in sheet.text and "wp-form" in sheet.text
    assert "sheet@shop.example" in sheet.text and "<script>x</script>" not in sheet.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "nul@shop.example", "x": "a\\u0000b", "k\\u0000": 1}',
        b'{"email": "big@shop.example", "n": 1e400, "m": 123456789012345678901234567890}',
        b'{"email": "deep@shop.example", "d": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'\xff\xfe{"email": 1}',
        b"",
    ],
    ids=["nul", "big-numbers", "deep", "not-utf8", "empty"],
)
def test_odd_bodies_get_an_answer_never_a_fault(
    http: httpx.Client, store: StoreInfo, body: bytes
) -> None:
    make_type(http, store, eventId=WP_TYPE, alias="wp", contactEmail="/email")
    r = http.post(
        f"{ingest_path(store.id)}?eventId={WP_TYPE}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (200, 400, 422), r.text
    assert len(r.json()["trackerId"]) == 24
    rest = http.post(
        f"/api/custom-events/event-id/{WP_TYPE}",
        content=body,
        headers={**store.auth, "Content-Type": "application/json"},
    )
    assert rest.status_code in (201, 400, 422), rest.text
