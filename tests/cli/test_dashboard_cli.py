"""The dashboard's CLI commands on both backends: users, quarantine, report, export; and
`shopevents demo` against a live server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from shopevents.cli import demo, exports, quarantine, reports, users
from shopevents.cli.env import Env
from shopevents.clock import FixedClock, SystemClock
from shopevents.config import Settings
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo
from tests.dashboard.support import (
    PASSWORD,
    login,
    product,
    purchase_event,
    send,
    start_server,
)

MUG = product("mug", "Mug", "9.95")


@pytest.fixture
def env(db_url: str, db: Database) -> Env:
    return Env(Settings(database_url=db_url))


def run(env: Env, cmd: Any, *args: str, code: int = 0, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cmd, list(args), obj=env, input=stdin, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_users_create_and_log_in(env: Env, db: Database, settings: Settings) -> None:
    out = run(env, users.users_group, "create", "alice", "--password", PASSWORD)
    assert "created user 'alice'" in out
    assert "exists already" in run(
        env, users.users_group, "create", "alice", "--password", PASSWORD, code=1
    )
    assert "at least 8" in run(
        env, users.users_group, "create", "bob", "--password", "short", code=1
    )
    run(env, users.users_group, "create", "carol", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert "alice" in run(env, users.users_group, "list") and "carol" in run(
        env, users.users_group, "list"
    )
    with db.reader() as c:
        stored = c.scalar("SELECT password_hash FROM users WHERE username = 'alice'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    live = start_server(settings, db, FixedClock())
    try:
        with httpx.Client(base_url=live.url) as web:
            login(web, "alice")
            run(env, users.users_group, "set-password", "alice", "--password", "another good one")
            # Changing the password ends the session.
            assert web.get("/").status_code == 303 and web.get("/").headers["location"].startswith(
                "/login"
            )
            login(web, "alice", "another good one")
    finally:
        live.stop()


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, FixedClock(datetime(2026, 4, 15, 12, tzinfo=UTC)))
    yield srv
    srv.stop()


def test_reports_as_csv_and_json(env: Env, live: LiveServer, store: StoreInfo) -> None:
    with httpx.Client(base_url=live.url) as c:
        send(
            c,
            store.id,
            [
                purchase_event(
                    "p1", [(MUG, 2)], date="2026-04-10T10:00:00Z", source_type="marketplace"
                )
            ],
            email="a@example.com",
        )
        send(
            c,
            store.id,
            [purchase_event("p2", [(MUG, 1)], date="2026-04-12T10:00:00Z")],
            email="b@example.com",
        )
        send(c, store.id, [{"type": "page-visit"}, {"type": "bogus"}])
    rng = ["--store", store.id, "--from", "2026-04-09", "--to", "2026-04-12"]
    out = run(env, reports.report_group, "revenue", *rng)
    assert list(csv.reader(io.StringIO(out))) == [
        ["period", "orders", "revenue", "currency"],
        ["2026-04-09", "0", "0", "EUR"],
        ["2026-04-10", "1", "19.9", "EUR"],
        ["2026-04-11", "0", "0", "EUR"],
        ["2026-04-12", "1", "9.95", "EUR"],
    ]
    grouped = list(
        csv.DictReader(
            io.StringIO(
                run(
                    env,
                    reports.report_group,
                    "revenue",
                    *rng,
                    "--group-by",
                    "source_type",
                    "--interval",
                    "week",
                )
            )
        )
    )
    assert [(r["period"], r["source_type"], r["orders"]) for r in grouped] == [
        ("2026-04-06", "marketplace", "1"),
        ("2026-04-06", "unspecified", "1"),
    ]
    js = json.loads(
        run(env, reports.report_group, "revenue", *rng, "--format", "json"), parse_float=Decimal
    )
    assert js["totals"]["revenue"] == Decimal("29.85") and js["store"]["id"] == store.id
    carts = list(csv.reader(io.StringIO(run(env, reports.report_group, "carts", *rng))))
    assert (
        carts[0] == ["period", "created", "abandoned", "purchased", "recovered"] and len(carts) == 5
    )
    products = list(
        csv.DictReader(
            io.StringIO(run(env, reports.report_group, "products", *rng, "--by", "units"))
        )
    )
    assert products == [
        {
            "rank": "1",
            "product_id": "mug",
            "name": "Mug",
            "units": "3",
            "orders": "2",
            "revenue": "29.85",
            "currency": "EUR",
        }
    ]
    quality = list(
        csv.DictReader(
            io.StringIO(
                run(
                    env,
                    reports.report_group,
                    "data-quality",
                    "--store",
                    store.id,
                    "--from",
                    "2026-04-15",
                    "--to",
                    "2026-04-15",
                )
            )
        )
    )
    assert quality == [
        {
            "period": "2026-04-15",
            "accepted": "3",
            "duplicate": "0",
            "conflict": "0",
            "rejected": "1",
        }
    ]
    assert "rebuilt" in run(env, reports.report_group, "rebuild", "--store", "Test store")
    assert run(env, reports.report_group, "revenue", *rng) == out
    assert "after" in run(
        env,
        reports.report_group,
        "revenue",
        "--store",
        store.id,
        "--from",
        "2026-04-12",
        "--to",
        "2026-04-01",
        code=2,
    )
    assert "no store" in run(env, reports.report_group, "carts", "--store", "nope", code=1)


def test_exports_stream_every_row(
    env: Env, live: LiveServer, store: StoreInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(exports, "BATCH", 3)  # several keyset pages
    with httpx.Client(base_url=live.url) as c:
        for i in range(7):
            send(
                c,
                store.id,
                [
                    {"type": "page-visit"},
                    purchase_event(f"e{i}", [(MUG, 1 + i)], date=f"2026-04-{10 + i % 3}T10:00:00Z"),
                ],
                email=f"c{i}@example.com",
            )
    lines = run(env, exports.export_command, "events", "--store", store.id, "--quiet").splitlines()
    events = [json.loads(x) for x in lines]
    assert len(events) == 14 and [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert {e["type"] for e in events} == {"page-visit", "purchase"}
    rows = list(
        csv.DictReader(
            io.StringIO(
                run(
                    env,
                    exports.export_command,
                    "purchases",
                    "--store",
                    store.id,
                    "--format",
                    "csv",
                    "--quiet",
                )
            )
        )
    )
    assert len(rows) == 7 and rows[0]["purchase_id"] == "e0" and rows[6]["total_price"] == "69.65"
    assert json.loads(rows[0]["products"])[0]["productId"] == "mug"
    only = list(
        csv.DictReader(
            io.StringIO(
                run(
                    env,
                    exports.export_command,
                    "purchases",
                    "--store",
                    store.id,
                    "--format",
                    "csv",
                    "--from",
                    "2026-04-11",
                    "--to",
                    "2026-04-11",
                    "--quiet",
                )
            )
        )
    )
    assert sorted(r["purchase_id"] for r in only) == ["e1", "e4"]
    target = tmp_path / "contacts.jsonl"
    out = run(env, exports.export_command, "contacts", "--store", store.id, "-o", str(target))
    assert "wrote 7 contacts" in out
    contacts = [json.loads(x) for x in target.read_text().splitlines()]
    assert sorted(c["email"] for c in contacts) == sorted(f"c{i}@example.com" for i in range(7))
    assert all(c["totalPurchases"] == 1 for c in contacts)


def test_quarantine_list_and_replay(
    env: Env, live: LiveServer, store: StoreInfo, db: Database
) -> None:
    with httpx.Client(base_url=live.url) as c:
        send(c, store.id, [{"type": "wishlist"}, {"type": "search", "searchText": ""}])
    out = run(env, quarantine.quarantine_group, "list", "--store", store.id)
    assert "unknown_type" in out and "empty_value" in out and "pending" in out
    only = run(
        env,
        quarantine.quarantine_group,
        "list",
        "--store",
        store.id,
        "--code",
        "unknown_type",
        "--json",
    )
    rows = [json.loads(x) for x in only.splitlines()]
    assert [r["code"] for r in rows] == ["unknown_type"]
    # Pretend the stored search was rejected by an older rule: it is valid text now.
    with db.reader() as c:
        c.execute(
            "UPDATE quarantine SET raw = ? WHERE code = 'empty_value'",
            (b'{"type":"search","searchText":"mugs"}',),
        )
    assert "give quarantine ids, or --all" in run(
        env, quarantine.quarantine_group, "replay", "--store", store.id, code=2
    )
    out = run(env, quarantine.quarantine_group, "replay", "--store", store.id, "--all")
    assert (
        "1 replayed and accepted" in out
        and "1 still rejected" in out
        and "unknown_type at /events/0/type" in out
    )
    assert "no quarantined events with code empty_value" in run(
        env, quarantine.quarantine_group, "list", "--store", store.id, "--code", "empty_value"
    )
    assert "nothing to replay" in run(
        env,
        quarantine.quarantine_group,
        "replay",
        "--store",
        store.id,
        "--all",
        "--code",
        "empty_value",
    )
    with db.reader() as c:
        assert (
            c.scalar(
                "SELECT COUNT(*) FROM events WHERE store_id = ? AND type = 'search' AND status = 'accepted'",
                (store.id,),
            )
            == 1
        )


@pytest.mark.slow
def test_demo_fills_a_store_through_the_ingest_endpoint(
    env: Env, settings: Settings, db: Database, db_url: str
) -> None:
    worker = Settings(worker=settings.worker.__class__(enabled=True, interval_seconds=0.2))
    live = start_server(worker, db, SystemClock())
    try:
        out = run(
            env,
            demo.demo_command,
            "--url",
            live.url,
            "--visitors",
            "30",
            "--seed",
            "3",
            "--abandon-after",
            "1s",
        )
        assert "purchases:" in out and "came back and bought" in out
        with db.reader() as c:
            sid = c.scalar("SELECT id FROM stores WHERE name = 'Demo store'")
            count = lambda sql: c.scalar(sql, (sid,))
            assert count("SELECT COUNT(*) FROM purchases WHERE store_id = ?") >= 5
            assert (
                count("SELECT COUNT(DISTINCT source_type) FROM purchases WHERE store_id = ?") >= 2
            )
            assert (
                count("SELECT COUNT(*) FROM carts WHERE store_id = ? AND state = 'recovered'") >= 1
            )
            assert count("SELECT COUNT(*) FROM quarantine WHERE store_id = ?") >= 2
            assert count("SELECT COUNT(*) FROM merges WHERE store_id = ?") >= 1
            assert count("SELECT abandon_after_seconds FROM stores WHERE id = ?") == 1800
    finally:
        live.stop()
    nothing = run(env, demo.demo_command, "--url", "http://127.0.0.1:9", code=1)
    assert "no shopevents server answers" in nothing
