"""The command line on both backends: migrate, stores create/list/keys, send, schema export;
`SHOPEVENTS_DATABASE_URL` works like `--database`; `postgresql://…` selects PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from shopevents.cli import main
from shopevents.schema import models as m
from shopevents.storage.database import Database
from tests.conftest import EXAMPLES, LiveServer, example

BIN = Path(sys.executable).with_name("shopevents")


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def ok(*args: str, **kw: Any) -> str:
    result = run(*args, **kw)
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


@pytest.fixture
def migrated(db_url: str) -> str:
    ok("--database", db_url, "migrate")
    return db_url


def create_store(url: str, *extra: str) -> dict[str, str]:
    out = ok("--database", url, "stores", "create", "Shop", "--json", *extra)
    lines = out.strip().splitlines()
    assert len(lines) == 1  # exactly one JSON object, nothing else
    return json.loads(lines[0])


# --- migrate --------------------------------------------------------------------------------


def test_migrate_then_up_to_date(db_url: str) -> None:
    first = ok("--database", db_url, "migrate")
    assert first.startswith("applied: 0001_initial.sql")
    assert ok("--database", db_url, "migrate").strip() == "the database is up to date"
    assert Database(db_url).pending_migrations() == []


def test_commands_refuse_an_unmigrated_database(db_url: str) -> None:
    result = run("--database", db_url, "stores", "create", "Shop")
    assert result.exit_code == 1
    assert "shopevents migrate" in result.stderr


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--database", "mysql://x/y", "migrate"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "mysql://x/y" in result.stderr and "sqlite:///" in result.stderr


# --- stores -----------------------------------------------------------------------------------


def test_stores_create_json_and_list(migrated: str) -> None:
    created = create_store(
        migrated,
        "--domain",
        "shop.example",
        "--domain",
        "www.shop.example",
        "--currency",
        "usd",
        "--timezone",
        "Europe/Madrid",
    )
    assert set(created) == {"storeId", "apiKeyId", "apiKeySecret"}
    listed = json.loads(ok("--database", migrated, "stores", "list", "--json"))
    assert len(listed) == 1
    rec = listed[0]
    assert (rec["id"], rec["name"], rec["currency"], rec["timezone"]) == (
        created["storeId"],
        "Shop",
        "USD",
        "Europe/Madrid",
    )
    assert rec["domains"] == ["shop.example", "www.shop.example"]
    text = ok("--database", migrated, "stores", "list")
    assert created["storeId"] in text and "shop.example,www.shop.example" in text
    # the key works against the REST API, and its secret is stored hashed
    with Database(migrated).reader() as c:
        (stored,) = c.one("SELECT secret_hash FROM api_keys WHERE id = ?", (created["apiKeyId"],))
    assert created["apiKeySecret"] not in stored


def test_stores_create_defaults_and_human_output(migrated: str) -> None:
    out = ok("--database", migrated, "stores", "create", "Plain shop")
    assert "store:" in out and "api key:" in out and "ingest URL:" in out
    (rec,) = json.loads(ok("--database", migrated, "stores", "list", "--json"))
    assert (rec["currency"], rec["timezone"], rec["domains"]) == ("EUR", "UTC", [])


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [("--currency", "EURO", "ISO 4217"), ("--timezone", "Mars/Olympus", "time zone")],
)
def test_stores_create_refuses_bad_values(
    migrated: str, option: str, value: str, says: str
) -> None:
    result = run("--database", migrated, "stores", "create", "Shop", option, value)
    assert result.exit_code == 2
    assert says in result.stderr
    assert json.loads(ok("--database", migrated, "stores", "list", "--json")) == []


def test_stores_keys_create(migrated: str) -> None:
    store = create_store(migrated)
    out = json.loads(
        ok("--database", migrated, "stores", "keys", store["storeId"], "--create", "pos")
    )
    assert set(out) == {"apiKeyId", "apiKeySecret"}
    listing = ok("--database", migrated, "stores", "keys", store["storeId"])
    assert store["apiKeyId"] in listing and out["apiKeyId"] in listing and "pos" in listing


# --- the environment and the backends ------------------------------------------------------


def test_database_url_from_the_environment(migrated: str) -> None:
    env = {"SHOPEVENTS_DATABASE_URL": migrated}
    created = json.loads(ok("stores", "create", "From env", "--json", env=env).strip())
    listed = json.loads(ok("stores", "list", "--json", env=env))
    assert [s["id"] for s in listed] == [created["storeId"]]
    # --database wins over the environment
    other = json.loads(
        ok(
            "--database",
            migrated,
            "stores",
            "list",
            "--json",
            env={"SHOPEVENTS_DATABASE_URL": "sqlite:////nonexistent/dir/x.db"},
        )
    )
    assert [s["id"] for s in other] == [created["storeId"]]


def test_the_url_selects_the_backend(migrated: str) -> None:
    store = create_store(migrated)
    db = Database(migrated)
    assert db.dialect == ("postgres" if migrated.startswith("postgresql://") else "sqlite")
    with db.reader() as c:
        assert c.scalar("SELECT name FROM stores WHERE id = ?", (store["storeId"],)) == "Shop"
        if db.dialect == "postgres":
            assert c.scalar("SELECT current_database()") == migrated.rsplit("/", 1)[1]


# --- send -------------------------------------------------------------------------------------


def test_send_prints_the_response_and_stores(migrated: str) -> None:
    store = create_store(migrated)
    path = str(EXAMPLES / "seed-purchase.json")
    out = json.loads(ok("--database", migrated, "send", path, "--store", store["storeId"]))
    assert [(r["type"], r["status"]) for r in out["results"]] == [
        ("purchase", "accepted"),
        ("page-visit", "accepted"),
    ]
    assert out["entityInfo"]["status"] == "accepted"
    again = json.loads(ok("--database", migrated, "send", path, "--store", store["storeId"]))
    assert again["results"][0]["status"] == "duplicate"
    with Database(migrated).reader() as c:
        assert (
            c.scalar("SELECT COUNT(*) FROM purchases WHERE store_id = ?", (store["storeId"],)) == 1
        )
        assert (
            c.scalar(
                "SELECT channel FROM requests WHERE store_id = ? ORDER BY id LIMIT 1",
                (store["storeId"],),
            )
            == "cli"
        )


def test_send_from_stdin_with_verdicts(migrated: str) -> None:
    store = create_store(migrated)
    body = (EXAMPLES / "events" / "purchase.invalid.json").read_text()
    out = json.loads(
        ok(
            "--database",
            migrated,
            "send",
            "-",
            "--store",
            store["storeId"],
            input=json.dumps({"events": [json.loads(body)]}),
        )
    )
    assert (out["results"][0]["status"], out["results"][0]["code"]) == ("rejected", "invalid_type")
    with Database(migrated).reader() as c:
        assert (
            c.scalar("SELECT COUNT(*) FROM quarantine WHERE store_id = ?", (store["storeId"],)) == 1
        )


@pytest.mark.parametrize(
    ("content", "store", "code"),
    [
        (example("seed-article-as-printed.json"), None, "invalid_json"),
        (b"[1, 2]", None, "invalid_envelope"),
        (b'{"events": []}', "no-such-store", "unknown_store"),
    ],
)
def test_send_errors(
    migrated: str, tmp_path: Path, content: bytes, store: str | None, code: str
) -> None:
    store_id = store or create_store(migrated)["storeId"]
    f = tmp_path / "body.json"
    f.write_bytes(content)
    result = run("--database", migrated, "send", str(f), "--store", store_id)
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["code"] == code and out["status"] in (400, 403)


def test_send_to_a_running_server(migrated: str, db: Database) -> None:
    store = create_store(migrated)
    from shopevents.clock import SystemClock
    from shopevents.config import Settings, WorkerSettings

    live = LiveServer(Settings(worker=WorkerSettings(enabled=False)), db, SystemClock()).start()
    try:
        path = str(EXAMPLES / "seed-purchase.json")
        out = json.loads(
            ok("--database", migrated, "send", path, "--store", store["storeId"], "--url", live.url)
        )
        assert out["results"][0]["status"] == "accepted"
        result = run("--database", migrated, "send", path, "--store", "nope", "--url", live.url)
        assert result.exit_code == 1 and json.loads(result.stdout)["code"] == "unknown_store"
        with httpx.Client(base_url=live.url) as c:
            assert c.get("/readyz").status_code == 200
    finally:
        live.stop()


# --- schema export ---------------------------------------------------------------------------


def test_schema_export_covers_every_model(tmp_path: Path) -> None:
    doc = json.loads(ok("schema", "export"))
    assert doc["$schema"].startswith("https://json-schema.org/")
    expected = {
        "Envelope",
        "EntityInfo",
        "Cart",
        "Product",
        "ProductBasketItem",
        "Purchase",
        "PurchaseCreation",
        "ProductCreation",
    }
    expected |= {f"Event:{t}" for t in m.EVENT_TYPES}
    assert set(doc["models"]) == expected
    defs = doc["$defs"]
    purchase = defs["Purchase"]
    assert set(purchase["required"]) == {"purchaseId", "totalQuantity", "totalPrice", "products"}
    assert purchase["properties"]["totalPrice"]["type"] == "number"
    assert purchase["properties"]["totalQuantity"]["minimum"] == 0
    assert set(defs["Product"]["required"]) == {
        "productId",
        "name",
        "productDetailUrl",
        "unitPrice",
    }
    assert set(defs["BasketItem"]["required"]) >= {"quantity", "price"}
    tags = {
        d["properties"]["type"]["enum"][0]
        for d in defs.values()
        if "type" in d.get("properties", {}) and "enum" in d["properties"]["type"]
    }
    assert tags >= set(m.EVENT_TYPES)
    out = tmp_path / "schema.json"
    ok("schema", "export", "-o", str(out))
    assert json.loads(out.read_text()) == doc


def test_the_installed_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for args in (
        ["--help"],
        ["--database", url, "migrate"],
        ["--database", url, "stores", "create", "S", "--json"],
    ):
        out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout)) == {"storeId", "apiKeyId", "apiKeySecret"}
    out = subprocess.run(
        [sys.executable, "-m", "shopevents", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "serve" in out.stdout


def test_settings_from_a_toml_file_and_the_environment(migrated: str, tmp_path: Path) -> None:
    store = create_store(migrated)
    body = tmp_path / "four.json"
    body.write_text(json.dumps({"events": [{"type": "page-visit"}] * 4}))
    args = ("send", str(body), "--store", store["storeId"])
    assert ok("--database", migrated, *args)  # 4 events: under the default limit
    toml = tmp_path / "shopevents.toml"
    toml.write_text(f'database_url = "{migrated}"\n\n[ingest]\nmax_events = 3\n')
    result = run("--config", str(toml), *args)
    assert result.exit_code == 1 and json.loads(result.stdout)["code"] == "too_many_events"
    # the endpoint's answer, message included
    assert json.loads(result.stdout)["message"] == "The request holds 4 events; the limit is 3"
    result = run("--database", migrated, *args, env={"SHOPEVENTS_INGEST_MAX_EVENTS": "2"})
    assert result.exit_code == 1 and json.loads(result.stdout)["code"] == "too_many_events"
    # the environment wins over the file
    result = run("--config", str(toml), *args, env={"SHOPEVENTS_INGEST_MAX_EVENTS": "10"})
    assert result.exit_code == 0, result.output
    bad = run("--database", migrated, *args, env={"SHOPEVENTS_INGEST_MAX_EVENTS": "many"})
    assert bad.exit_code == 1 and "invalid setting" in bad.stderr
