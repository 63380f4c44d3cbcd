"""Erasure on both backends: a contact sent through every channel (browser with cart and
purchase, REST, a rejected event, a webhook delivery and its attempt, a merge with an
anonymous contact) is erased; then every text and blob column of every table is read and
the e-mail (in any case), its tracker ids and contact ids are nowhere; revenue reports are
unchanged; replaying the old traffic does not re-create it; a fresh identification does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopevents.clock import SystemClock
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.storage.database import Database
from shopevents.webhooks.worker import worker_steps
from tests.conftest import LiveServer, StoreInfo, ingest_path, make_store
from tests.shop import cart, line, purchase
from tests.webhooks_receiver import Receiver

EMAIL = "Erase.Me@Example.com"


@pytest.fixture
def live(db: Database) -> Iterator[LiveServer]:
    settings = Settings(
        worker=WorkerSettings(enabled=True, interval_seconds=0.05),
        webhooks=WebhookSettings(allow_private_addresses=True, timeout_seconds=2.0),
    )
    server = LiveServer(settings, db, SystemClock())
    server.app.state.worker_steps = worker_steps(server.ctx)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def send(api: httpx.Client, store: StoreInfo, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(
        ingest_path(store.id),
        content=json.dumps(body),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def dump(db: Database) -> str:
    """Every value of every table, as lower-case text."""
    conn = db.connect()
    try:
        if conn.dialect == "postgres":
            tables = [
                r[0]
                for r in conn.all(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
            ]
        else:
            tables = [r[0] for r in conn.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = []
        for t in tables:
            for row in conn.all(f"SELECT * FROM {t}"):
                for v in row:
                    if isinstance(v, bytes | bytearray | memoryview):
                        out.append(f"{t}:" + bytes(v).decode("latin-1"))
                    elif v is not None:
                        out.append(f"{t}:{v}")
        return "\n".join(out).lower()
    finally:
        conn.close()


def wait_until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_erasure_reaches_every_copy(api: httpx.Client, db: Database) -> None:
    store = make_store(db)
    h = store.auth
    rec = Receiver().start()
    try:
        r = api.post(
            "/api/webhooks",
            json={"url": rec.url, "topics": ["contact.identified", "purchase.created"]},
            headers=h,
        )
        assert r.status_code == 201, r.text
        # REST: the contact exists first, with a name
        r = api.patch(f"/api/contacts/{EMAIL}", json={"_name": "Erin"}, headers=h)
        assert r.status_code in (200, 201), r.text
        # browser: an anonymous visitor (a cart, a rejected event) logs in as the contact:
        # a merge
        first = send(
            api,
            store,
            {
                "events": [{"type": "page-visit"}],
                "cart": cart("c1", line("p1")),
                "browserInfo": {
                    "url": "https://shop.example/?utm_source=news",
                    "referrer": f"https://mail.example/read?to={EMAIL}",
                },
            },
        )
        t1 = first["trackerId"]
        send(
            api,
            store,
            {
                "entityInfo": {"trackerId": t1},
                "events": [{"type": "no-such-type"}, {"type": "search", "searchText": EMAIL}],
            },
        )
        ident = send(
            api,
            store,
            {
                "entityInfo": {"trackerId": t1, "primaryKey": EMAIL, "_surname": "Smith"},
                "events": [purchase("o-1", line("p1"), cart_id="c1")],
            },
        )
        assert ident["results"][0]["status"] == "accepted", ident
        # a second browser of the same contact
        t2 = send(api, store, {"entityInfo": {"primaryKey": EMAIL}, "events": [{"type": "login"}]})[
            "trackerId"
        ]
        # REST purchase naming the contact
        body = {**purchase("o-2", line("p2", 2, "5"))["purchase"], "contactEmail": EMAIL}
        assert api.post("/api/purchases/", json=body, headers=h).status_code == 201
        # a contacts file refused for one bad row: its error report shows the row's e-mail
        bad_file = f'{{"_email": "{EMAIL}", "_birthdate": "{EMAIL}"}}\n'
        r = api.post("/api/imports?type=contacts&format=jsonl", content=bad_file, headers=h)
        assert r.status_code == 422, r.text
        contact = api.get(f"/api/contacts/{EMAIL}", headers=h).json()
        contact_ids = {contact["id"], *[m_["fromContact"] for m_ in contact.get("merges", [])]}
        wait_until(lambda: len(rec.received) >= 1)
        report_before = api.get("/api/reports/revenue", headers=h).json()["totals"]
        assert report_before["orders"] == 2
        before = dump(db)
        needles = [EMAIL.lower(), t1.lower(), t2.lower(), *[c.lower() for c in contact_ids]]
        for n in needles:
            assert n in before, n
        for table in ("visits", "imports"):
            assert any(
                ln.startswith(f"{table}:") and EMAIL.lower() in ln for ln in before.splitlines()
            )

        r = api.delete(f"/api/contacts/{EMAIL}", headers=h)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["status"] == "done" and out["found"] and out["counts"]["contacts"] >= 2, out
        after = dump(db)
        for n in needles:
            where = [line_ for line_ in after.splitlines() if n in line_]
            assert not where, (n, where[:3])
        assert api.get(f"/api/contacts/{EMAIL}", headers=h).status_code == 404
        report_after = api.get("/api/reports/revenue", headers=h).json()["totals"]
        assert report_after == report_before
        # idempotent: the same erasure again
        again = api.delete(f"/api/contacts/{EMAIL}", headers=h).json()
        assert again["id"] == out["id"] and again["status"] == "done"
        # the audit log
        log = api.get("/api/erasures", headers=h).json()["erasures"]
        assert [e["id"] for e in log] == [out["id"]]
        assert log[0]["actor"] == f"api-key:{store.key_id}" and log[0]["counts"] == out["counts"]
        assert EMAIL.lower() not in json.dumps(log).lower()

        # replaying the old traffic does not re-create the contact
        replay = send(
            api,
            store,
            {
                "entityInfo": {"trackerId": t1, "primaryKey": EMAIL},
                "events": [{"type": "page-visit"}],
            },
        )
        assert replay["trackerId"] != t1
        assert replay["entityInfo"]["status"] == "rejected"
        assert replay["entityInfo"]["code"] == "contact_erased"
        assert api.get(f"/api/contacts/{EMAIL}", headers=h).status_code == 404
        assert t1.lower() not in dump(db)
        # a fresh identification from a new tracker is a new contact
        fresh = send(
            api, store, {"entityInfo": {"primaryKey": EMAIL}, "events": [{"type": "login"}]}
        )
        assert fresh["entityInfo"]["status"] == "accepted"
        now = api.get(f"/api/contacts/{EMAIL}", headers=h).json()
        assert now["id"] not in contact_ids and now.get("_name") is None
    finally:
        rec.stop()


def test_erasing_an_unknown_email_and_bad_input(api: httpx.Client, db: Database) -> None:
    store = make_store(db)
    r = api.delete("/api/contacts/nobody@example.com", headers=store.auth)
    assert r.status_code == 200 and r.json()["found"] is False and r.json()["counts"] == {}
    bad = api.delete("/api/contacts/not-an-email", headers=store.auth)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    assert api.delete("/api/contacts/a@b.co").status_code == 401
    assert api.get("/api/erasures/nope", headers=store.auth).status_code == 404


def test_a_large_erasure_is_left_to_the_worker(db: Database) -> None:
    from datetime import UTC, datetime

    from shopevents.clock import FixedClock
    from shopevents.domain import erasure
    from shopevents.storage import erasure as erasures
    from shopevents.worker.steps import run_once
    from tests.shop import Shop

    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    shop = Shop(db, clock)
    try:
        shop.send([{"type": "page-visit"}], email="big@example.com")
        with shop.conn.transaction():
            out = erasure.request(
                shop.conn, shop.store.id, "BIG@example.com", "cli", 1, "e1", inline_limit=0
            )
        assert out.status == "pending"
        row = shop.conn.one("SELECT pending_email FROM erasures WHERE id = 'e1'")
        assert row[0] == "big@example.com"
        assert run_once(shop.conn, clock, Settings())
        done = erasures.get(shop.conn, shop.store.id, "e1")
        assert done is not None and done["status"] == "done" and done["counts"]["contacts"] == 1
        assert shop.conn.one("SELECT pending_email FROM erasures WHERE id = 'e1'")[0] is None
        assert "big@example.com" not in dump(db)
    finally:
        shop.close()


def test_erasure_from_the_command_line(db_url: str, db: Database) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from shopevents.cli import main
    from shopevents.clock import FixedClock
    from tests.shop import Shop

    shop = Shop(db, FixedClock(datetime(2026, 3, 1, tzinfo=UTC)))
    try:
        shop.send([{"type": "page-visit"}], email="cli@example.com")
        sid = shop.store.id
    finally:
        shop.close()
    runner = CliRunner()
    base = ["--database", db_url, "contacts"]
    no = runner.invoke(main, [*base, "erase", "CLI@example.com", "--store", sid], input="n\n")
    assert no.exit_code == 1 and "Aborted" in no.output
    assert "cli@example.com" in dump(db)
    r = runner.invoke(main, [*base, "erase", "CLI@example.com", "--store", sid, "--yes"])
    assert r.exit_code == 0 and r.output.startswith("erased cli@example.com"), r.output
    assert "contacts 1" in r.output and "cli@example.com" not in dump(db)
    again = runner.invoke(main, [*base, "erase", "cli@example.com", "--store", sid, "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["status"] == "done"
    log = json.loads(runner.invoke(main, [*base, "erasures", "--store", sid]).output)
    assert len(log) == 1 and log[0]["actor"].startswith("cli:")
    bad = runner.invoke(main, [*base, "erase", "not-an-email", "--store", sid, "--yes"])
    assert bad.exit_code == 1 and "not an e-mail address" in bad.output


def test_erasure_from_the_dashboard(api: httpx.Client, live: LiveServer, db: Database) -> None:
    from tests.dashboard.support import add_user, grant, login

    store = make_store(db)
    r = api.patch(f"/api/contacts/{EMAIL}", json={"_name": "Erin"}, headers=store.auth)
    assert r.status_code in (200, 201)
    cid = api.get(f"/api/contacts/{EMAIL}", headers=store.auth).json()["id"]
    add_user(db, "owner")
    add_user(db, "watcher", owner=False)
    grant(db, "watcher", store.id, "viewer")
    page = f"/stores/{store.id}/contacts/{cid}"
    with httpx.Client(base_url=live.url, timeout=30) as viewer:
        token = login(viewer, "watcher")
        assert "Erase this contact" not in viewer.get(page).text
        refused = viewer.post(page + "/erase", data={"csrf": token, "confirm": EMAIL})
        assert refused.status_code == 403
    with httpx.Client(base_url=live.url, timeout=30) as web:
        token = login(web, "owner")
        html = web.get(page).text
        assert "Erase this contact" in html and "data-confirm" in html
        # the e-mail must be typed again
        wrong = web.post(page + "/erase", data={"csrf": token, "confirm": "someone@else.com"})
        assert wrong.status_code == 303 and wrong.headers["location"].endswith(page)
        assert "Type the contact" in web.get(wrong.headers["location"]).text
        assert api.get(f"/api/contacts/{EMAIL}", headers=store.auth).status_code == 200
        # no CSRF token: refused
        assert web.post(page + "/erase", data={"confirm": EMAIL}).status_code == 403
        done = web.post(page + "/erase", data={"csrf": token, "confirm": EMAIL.upper()})
        assert done.status_code == 303
        assert "was erased" in web.get(done.headers["location"]).text
    assert api.get(f"/api/contacts/{EMAIL}", headers=store.auth).status_code == 404
    log = api.get("/api/erasures", headers=store.auth).json()["erasures"]
    assert log[0]["actor"] == "user:owner"
    assert EMAIL.lower() not in dump(db)
