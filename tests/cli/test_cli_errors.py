"""Every command of `shopevents --help`, given bad input: a database URL that is no backend,
a SQLite file that does not exist, a database that is not migrated, PostgreSQL down or
missing, unknown stores and objects, unwritable output paths, bad option values. Each must
answer with one `Error:` line that says what is wrong and how to fix it, never a traceback,
and a non-zero exit status. Also: --store takes an id or a name everywhere, the JSON shapes
are the REST API's, and `--version`, `serve`'s ready line, `--log-level` and access log
work through the real entry point."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from shopevents.cli import main
from shopevents.cli.common import STORE_HELP
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    EXAMPLES,
    StoreInfo,
    create_pg_database,
    drop_pg_database,
    pg_url_for,
)

BIN = Path(sys.executable).with_name("shopevents")
HOOK = "https://example.com/hook"
PASSWORD = "correct horse battery staple"
RATES = "Date, USD, \n04 December 2026, 1.0500, \n"
needs_postgres = pytest.mark.skipif(
    "postgres" not in BACKENDS, reason="PostgreSQL is not a test mode"
)


def invoke(
    *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input)


def clean(result: Result) -> None:
    """No traceback, and no exception but click's own exit."""
    text = result.output + result.stderr
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def fails(result: Result, *hints: str, code: int = 1) -> str:
    """A failure: the exit status, exactly one `Error:` line, and each hint in it."""
    clean(result)
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for hint in hints:
        assert hint in result.stderr, (hint, result.stderr)
    return result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leaf_commands(group: click.Group, prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += leaf_commands(cmd, f"{prefix}{name} ")
        else:
            out.append(f"{prefix}{name}")
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("files")
    (d / "rates.csv").write_text(RATES)
    (d / "not-rates.csv").write_text("hello\n")
    return d


def every_command(files: Path) -> dict[str, list[str]]:
    """A well-formed invocation of every command that works on the database (the store is
    "Shop"; the database is what the test makes wrong)."""
    seed = str(EXAMPLES / "seed-purchase.json")
    cases = {
        "migrate": ["migrate"],
        "serve": ["serve", "--port", str(free_port()), "--no-worker"],
        "worker": ["worker", "--once"],
        "stores create": ["stores", "create", "Other"],
        "stores list": ["stores", "list"],
        "stores update": ["stores", "update", "Shop", "--name", "Renamed"],
        "stores snippet": ["stores", "snippet", "Shop"],
        "stores keys": ["stores", "keys", "Shop"],
        "stores write-keys create": ["stores", "write-keys", "create", "Shop"],
        "stores write-keys list": ["stores", "write-keys", "list", "Shop"],
        "stores write-keys revoke": ["stores", "write-keys", "revoke", "Shop", "wk_x"],
        "send": ["send", seed, "--store", "Shop"],
        "schema export": ["schema", "export"],
        "contacts show": ["contacts", "show", "jane@example.com"],
        "contacts unmerge": ["contacts", "unmerge", "1"],
        "contacts erase": ["contacts", "erase", "jane@example.com", "--yes"],
        "contacts erasures": ["contacts", "erasures"],
        "stores retention": ["stores", "retention", "--store", "Shop", "--days", "30"],
        "carts list": ["carts", "list"],
        "carts show": ["carts", "show", "1"],
        "webhooks add": ["webhooks", "add", HOOK, "--topic", "purchase.created"],
        "webhooks list": ["webhooks", "list"],
        "webhooks remove": ["webhooks", "remove", "whe_x"],
        "webhooks ping": ["webhooks", "ping", "whe_x"],
        "webhooks deliveries": ["webhooks", "deliveries"],
        "webhooks attempts": ["webhooks", "attempts", "whd_x"],
        "webhooks replay": ["webhooks", "replay", "whd_x"],
        "users create": ["users", "create", "ann", "--password", PASSWORD],
        "users set-password": ["users", "set-password", "ann", "--password", PASSWORD],
        "users list": ["users", "list"],
        "users grant": ["users", "grant", "ann", "--store", "Shop", "--role", "viewer"],
        "users revoke": ["users", "revoke", "ann", "--store", "Shop"],
        "users sessions": ["users", "sessions", "ann"],
        "users revoke-sessions": ["users", "revoke-sessions", "ann"],
        "quarantine list": ["quarantine", "list"],
        "quarantine replay": ["quarantine", "replay", "1"],
        "report revenue": ["report", "revenue"],
        "report carts": ["report", "carts"],
        "report products": ["report", "products"],
        "report data-quality": ["report", "data-quality"],
        "report rebuild": ["report", "rebuild"],
        "report sources": ["report", "sources"],
        "custom-events create": [
            "custom-events",
            "create",
            "--alias",
            "a",
            "--contact-email",
            "/email",
        ],
        "custom-events list": ["custom-events", "list"],
        "custom-events delete": ["custom-events", "delete", "ce_x"],
        "export": ["export", "events"],
        "import": ["import", "contacts", str(files / "rates.csv"), "--dry-run"],
        "demo": ["demo", "--url", "http://127.0.0.1:1", "--visitors", "1"],
        "rates load": ["rates", "load", str(files / "rates.csv")],
        "rates list": ["rates", "list"],
        "purchases refund": [
            "purchases",
            "refund",
            "Shop",
            "p1",
            "--refund-id",
            "r1",
            "--amount",
            "1",
        ],
        "purchases cancel": ["purchases", "cancel", "Shop", "p1"],
        "cluster init": ["cluster", "init", "--nats", "nats://127.0.0.1:1", "--replicas", "1"],
        "collect": ["collect", "--nats", "nats://127.0.0.1:1", "--port", str(free_port())],
        "process": ["process", "--nats", "nats://127.0.0.1:1"],
    }
    known = set(leaf_commands(main))
    return {name: args for name, args in cases.items() if name in known}


def case_names() -> list[str]:
    return list(every_command(Path("/")))


NO_DATABASE = {"schema export"}
"""Commands that never open the database."""


def test_every_command_has_a_case(files: Path) -> None:
    missing = set(leaf_commands(main)) - set(every_command(files))
    assert not missing, f"add a bad-input case for {sorted(missing)} to this file"


# --- the database named wrongly -------------------------------------------------------------------


@pytest.mark.parametrize("url", ["garbage", "mysql://user@db/shop"])
def test_a_url_that_is_no_backend(files: Path, url: str) -> None:
    for name, args in every_command(files).items():
        err = fails(invoke("--database", url, *args), url)
        assert "sqlite:///" in err and "postgresql://" in err, (name, err)


def test_a_sqlite_file_that_does_not_exist_is_not_created(files: Path, tmp_path: Path) -> None:
    target = tmp_path / "typo" / "shop.db"
    url = f"sqlite:///{target}"
    for name, args in every_command(files).items():
        if name == "migrate":
            continue  # the one command that creates it
        result = invoke("--database", url, *args)
        if name in NO_DATABASE:
            assert result.exit_code == 0, (name, result.output)
        else:
            fails(result, f"no database at {target}", "shopevents migrate", "--database")
        assert not target.parent.exists(), f"{name} created {target.parent}"


def test_the_default_database_is_named_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    err = fails(invoke("stores", "list", env={"SHOPEVENTS_DATABASE_URL": None}))
    assert str(tmp_path / "shopevents.db") in err and "working directory" in err
    assert not (tmp_path / "shopevents.db").exists()


def test_a_sqlite_path_that_is_no_database(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    for command in (["stores", "list"], ["migrate"]):
        fails(invoke("--database", f"sqlite:///{text}", *command), "is not a SQLite database")
        fails(invoke("--database", f"sqlite:///{tmp_path}", *command), str(tmp_path), "path")
    assert text.read_text() == "hello\n"


def test_a_locked_sqlite_database(shop: tuple[str, str]) -> None:
    url, _ = shop
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing
        env = {"SHOPEVENTS_STORAGE_BUSY_TIMEOUT_MS": "50"}
        fails(invoke("--database", url, "stores", "create", "Two", env=env), "busy", "try again")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_an_unmigrated_sqlite_database(files: Path, tmp_path: Path) -> None:
    target = tmp_path / "empty.db"
    target.touch()
    url = f"sqlite:///{target}"
    for name, args in every_command(files).items():
        if name in NO_DATABASE or name == "migrate":
            continue
        fails(invoke("--database", url, *args), str(target), "run `shopevents migrate`")


@needs_postgres
def test_an_unmigrated_postgresql_database(files: Path) -> None:
    name = create_pg_database(migrated=False)
    try:
        cases = every_command(files)
        for command in ("stores list", "users set-password", "report revenue", "carts list"):
            fails(invoke("--database", pg_url_for(name), *cases[command]), "shopevents migrate")
    finally:
        drop_pg_database(name)


def test_postgresql_not_answering(files: Path) -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/test"
    env = {"SHOPEVENTS_STORAGE_STARTUP_WAIT_SECONDS": "0"}
    for name, args in every_command(files).items():
        if name in NO_DATABASE:
            continue
        err = fails(invoke("--database", url, *args, env=env), "is not answering", "start it")
        assert "secret" not in err and "postgres:***@" in err, err


@needs_postgres
def test_a_postgresql_database_that_does_not_exist(files: Path) -> None:
    missing = f"shopevents_missing_{uuid.uuid4().hex[:8]}"
    url = pg_url_for(missing)
    cases = every_command(files)
    for name in ("stores list", "serve", "worker", "users list", "report carts"):
        err = fails(invoke("--database", url, *cases[name]), f"createdb {missing}")
        assert "waiting" not in err  # waiting would not make it exist


# --- bad input on a good database ---------------------------------------------------------------


def make_shop(directory: Path) -> tuple[str, str]:
    """A migrated SQLite database with one store named "Shop": (url, store id)."""
    url = f"sqlite:///{directory / 'shop.db'}"
    db = Database(url)
    db.migrate()
    db.close()
    out = invoke("--database", url, "stores", "create", "Shop", "--json")
    assert out.exit_code == 0, out.output
    return url, json.loads(out.stdout)["storeId"]


@pytest.fixture
def shop(tmp_path: Path) -> tuple[str, str]:
    return make_shop(tmp_path)


@pytest.fixture(scope="module")
def module_shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One shop for the bad-input cases, which change nothing."""
    return make_shop(tmp_path_factory.mktemp("shop"))


BAD_INPUT: list[tuple[list[str], int, list[str]]] = [
    # unknown stores, by id or name, in every command that takes one
    (["stores", "update", "nope", "--name", "x"], 1, ["'nope'", "shopevents stores list"]),
    (["stores", "snippet", "nope"], 1, ["'nope'", "shopevents stores list"]),
    (["stores", "keys", "nope"], 1, ["'nope'", "shopevents stores list"]),
    (["stores", "write-keys", "create", "nope"], 1, ["'nope'", "shopevents stores list"]),
    (["stores", "write-keys", "list", "nope"], 1, ["'nope'", "shopevents stores list"]),
    (["stores", "write-keys", "revoke", "nope", "wk_1"], 1, ["'nope'"]),
    (["contacts", "show", "a@b.c", "--store", "nope"], 1, ["'nope'"]),
    (["contacts", "unmerge", "1", "--store", "nope"], 1, ["'nope'"]),
    (["stores", "retention", "--store", "nope"], 1, ["'nope'"]),
    (["stores", "retention", "--store", "Shop", "--days", "0"], 2, ["--days", "3650"]),
    (["stores", "retention", "--store", "Shop", "--days", "9", "--default"], 2, ["--default"]),
    (["carts", "list", "--store", "nope"], 1, ["'nope'"]),
    (["carts", "show", "1", "--store", "nope"], 1, ["'nope'"]),
    (["webhooks", "add", HOOK, "--store", "nope", "--topic", "purchase.created"], 1, ["'nope'"]),
    (["webhooks", "list", "--store", "nope"], 1, ["'nope'", "shopevents stores list"]),
    (["webhooks", "deliveries", "--store", "nope"], 1, ["'nope'", "shopevents stores list"]),
    (["webhooks", "replay", "--dead", "--store", "nope"], 1, ["'nope'"]),
    (["quarantine", "list", "--store", "nope"], 1, ["'nope'"]),
    (["quarantine", "replay", "--store", "nope", "1"], 1, ["'nope'"]),
    (["report", "revenue", "--store", "nope"], 1, ["'nope'"]),
    (["report", "rebuild", "--store", "nope"], 1, ["'nope'"]),
    (["export", "events", "--store", "nope"], 1, ["'nope'"]),
    (["demo", "--store", "nope", "--url", "http://127.0.0.1:1"], 1, ["'nope'"]),
    (["purchases", "refund", "nope", "p1", "--refund-id", "r1", "--amount", "1"], 1, ["'nope'"]),
    (["purchases", "refund", "Shop", "p1", "--refund-id", "r1"], 2, ["--amount", "--line"]),
    (["purchases", "cancel", "nope", "p1"], 1, ["'nope'"]),
    # unknown objects
    (["stores", "keys", "Shop", "--revoke", "key_x"], 1, ["key_x"]),
    (["stores", "write-keys", "revoke", "Shop", "wk_x"], 1, ["wk_x"]),
    (["contacts", "show", "nobody@example.com"], 1, ["nobody@example.com", "exact e-mail"]),
    (["contacts", "unmerge", "99"], 1, ["no merge 99"]),
    (["carts", "show", "nope"], 1, ["no cart 'nope'"]),
    (["webhooks", "remove", "whe_x"], 1, ["whe_x", "shopevents webhooks list"]),
    (["webhooks", "ping", "whe_x"], 1, ["whe_x", "shopevents webhooks list"]),
    (["webhooks", "attempts", "whd_x"], 1, ["whd_x", "shopevents webhooks deliveries"]),
    (["webhooks", "replay", "whd_x"], 1, ["whd_x", "shopevents webhooks deliveries"]),
    (["webhooks", "deliveries", "--endpoint", "whe_x"], 1, ["whe_x", "webhooks list"]),
    (["users", "set-password", "nobody"], 1, ["nobody", "shopevents users create"]),
    (["quarantine", "replay", "99999"], 1, ["99999", "quarantine list"]),
    # output that cannot be written
    (["export", "events", "-o", "/nonexistent-dir/x.jsonl"], 1, ["/nonexistent-dir/x.jsonl"]),
    (["schema", "export", "-o", "/nonexistent-dir/x.json"], 1, ["/nonexistent-dir/x.json"]),
    # servers that do not answer
    (["send", "{seed}", "--url", "http://127.0.0.1:1"], 1, ["shopevents serve", "--url"]),
    (["demo", "--url", "http://127.0.0.1:1"], 1, ["shopevents serve", "--url"]),
    (["demo", "--abandon-after", "soon"], 2, ["--abandon-after"]),
    # wrong values: exit 2, naming the option
    (["send", "{seed}", "--url", "ftp://x"], 2, ["--url", "http://"]),
    (["send", "/nonexistent-dir/x.json"], 2, ["/nonexistent-dir/x.json"]),
    (["stores", "create", " "], 2, ["name"]),
    (["stores", "create", "X", "--currency", "ZZZ"], 2, ["--currency", "ISO 4217"]),
    (["stores", "create", "X", "--timezone", "Mars/Base"], 2, ["--timezone", "Europe/Madrid"]),
    (["stores", "update", "Shop"], 2, ["nothing to change"]),
    (["stores", "update", "Shop", "--abandon-after", "soon"], 2, ["--abandon-after", "30m"]),
    (["stores", "update", "Shop", "--exclude", "("], 2, ["--exclude"]),
    (["stores", "update", "Shop", "--reporting-currency", "XX"], 2, ["--reporting-currency"]),
    (["contacts", "show", "a@b.c", "--activity", "-1"], 2, ["--activity"]),
    (["carts", "list", "--limit", "0"], 2, ["--limit"]),
    (["carts", "list", "--status", "lost"], 2, ["--status"]),
    (["webhooks", "add", HOOK, "--topic", "nope"], 2, ["--topic"]),
    (["webhooks", "add", "ftp://x", "--topic", "purchase.created"], 1, ["ftp://x"]),
    (["webhooks", "replay"], 2, ["--dead"]),
    (["quarantine", "replay"], 2, ["--all"]),
    (["quarantine", "list", "--limit", "0"], 2, ["--limit"]),
    (["report", "revenue", "--currency", "ZZZ"], 2, ["--currency", "ISO 4217"]),
    (["report", "products", "--currency", "ZZZ"], 2, ["--currency", "ISO 4217"]),
    (["report", "products", "--limit", "501"], 2, ["--limit", "500"]),
    (["report", "revenue", "--from", "2020-13-01"], 2, ["--from", "YYYY-MM-DD"]),
    (["report", "carts", "--interval", "year"], 2, ["--interval"]),
    (["export", "events", "--from", "yesterday"], 2, ["--from"]),
    (["export", "orders"], 2, ["events"]),
    (["rates", "load", "/nonexistent-dir/rates.csv"], 2, ["/nonexistent-dir/rates.csv"]),
    (["rates", "load", "{not-rates}"], 1, ["not-rates.csv", "Date"]),
    (["rates", "list", "--date", "04/12/2026"], 2, ["--date", "YYYY-MM-DD"]),
    (["purchases", "refund", "Shop", "p1", "--refund-id", "r1", "--amount", "x"], 2, ["--amount"]),
    (["purchases", "refund", "Shop", "p1", "--refund-id", "r1", "--line", "p"], 2, ["--line"]),
    (["serve", "--log-level", "loud"], 2, ["--log-level"]),
    # cluster mode: PostgreSQL only, and its flags checked by the settings' rules
    (["cluster", "init", "--nats", "nats://127.0.0.1:1"], 1, ["needs PostgreSQL", "--database"]),
    (["collect", "--nats", "nats://127.0.0.1:1", "--port", str(free_port())], 1, ["PostgreSQL"]),
    (["process", "--nats", "nats://127.0.0.1:1"], 1, ["needs PostgreSQL", "shopevents serve"]),
    (["cluster", "init", "--nats", "127.0.0.1:4222"], 2, ["--nats", "nats://HOST:PORT"]),
    (["cluster", "init", "--replicas", "0"], 2, ["--replicas", "from 1 to 5"]),
    (["collect", "--prefix", "My.Shop"], 2, ["--prefix", "lower-case"]),
    (["process", "--prefix", ""], 2, ["--prefix"]),
    (["serve", "--port", "http"], 2, ["--port"]),
]


@pytest.mark.parametrize(
    ("args", "code", "hints"), BAD_INPUT, ids=[" ".join(a[:3]) for a, _, _ in BAD_INPUT]
)
def test_bad_input(
    module_shop: tuple[str, str], files: Path, args: list[str], code: int, hints: list[str]
) -> None:
    url, _ = module_shop
    subst = {
        "{seed}": str(EXAMPLES / "seed-purchase.json"),
        "{not-rates}": str(files / "not-rates.csv"),
    }
    args = [subst.get(a, a) for a in args]
    fails(invoke("--database", url, *args), *hints, code=code)


def test_failures_change_nothing(module_shop: tuple[str, str]) -> None:
    """After every bad-input case: still the one store (demo made none)."""
    url, store_id = module_shop
    listed = json.loads(invoke("--database", url, "stores", "list", "--json").stdout)
    assert [s["id"] for s in listed] == [store_id]


def test_serve_on_a_port_in_use(shop: tuple[str, str]) -> None:
    url, _ = shop
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        fails(invoke("--database", url, "serve", "--port", port), port, "--port")


def test_which_store_when_there_are_several(shop: tuple[str, str]) -> None:
    url, first = shop
    made = invoke("--database", url, "stores", "create", "Shop", "--json")
    assert made.exit_code == 0 and first in made.stderr and "by id" in made.stderr
    second = json.loads(made.stdout)
    err = fails(invoke("--database", url, "carts", "list"), "--store", first, code=2)
    assert second["storeId"] in err
    # two stores named alike: the name is ambiguous, the ids are given
    err = fails(invoke("--database", url, "report", "carts", "--store", "Shop"), "give its id")
    assert first in err and second["storeId"] in err


def test_bad_settings_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("port = \n")
    fails(invoke("--config", str(bad), "stores", "list"), str(bad), "TOML", "line 1")
    fails(invoke("--config", str(tmp_path / "none.toml"), "stores", "list"), "none.toml")


# --- --store: an id or a name, everywhere --------------------------------------------------------


def test_store_by_id_or_name_everywhere(shop: tuple[str, str]) -> None:
    url, store_id = shop
    seed = str(EXAMPLES / "seed-purchase.json")
    for ref in (store_id, "Shop"):
        for args in (
            ["send", seed, "--store", ref],
            ["stores", "snippet", ref],
            ["stores", "keys", ref],
            ["stores", "write-keys", "list", ref],
            ["stores", "update", ref, "--timezone", "Europe/Madrid"],
            ["carts", "list", "--store", ref],
            ["contacts", "show", "jane@example.com", "--store", ref],
            ["webhooks", "list", "--store", ref],
            ["webhooks", "deliveries", "--store", ref],
            ["quarantine", "list", "--store", ref],
            ["report", "carts", "--store", ref],
            ["export", "contacts", "--store", ref, "--quiet"],
        ):
            result = invoke("--database", url, *args)
            clean(result)
            assert result.exit_code == 0, (args, result.output)


def test_one_store_option(files: Path) -> None:
    """Every command's --store says the same: an id or an exact name."""
    seen = []
    for name in every_command(files):
        cmd: Any = main
        for word in name.split():
            cmd = cmd.commands[word]
        for param in cmd.params:
            if "--store" in getattr(param, "opts", []):
                seen.append(name)
                assert param.help.startswith(STORE_HELP.split(" (")[0]), (
                    f"{name}: give --store with shopevents.cli.common.store_option(note=...), "
                    f"so that it reads like every other; its help is {param.help!r}"
                )
    assert len(seen) >= 20, seen


# --- the JSON shapes are the REST API's ------------------------------------------------------------


def purchase_body(amount: str) -> str:
    body = json.loads((EXAMPLES / "seed-purchase.json").read_text())
    purchase = body["events"][0]["purchase"]
    purchase.pop("purchaseDate")  # received now: inside the reports' default range
    purchase["totalPrice"] = float(amount)
    purchase["products"][0].update(price=float(amount), unitPrice=float(amount))
    purchase["products"][0]["isBlacklisted"] = "true"  # coerced, with a warning
    return json.dumps(body)


def test_json_is_the_rest_apis(
    db: Database, store: StoreInfo, http: httpx.Client, tmp_path: Path
) -> None:
    url = db.url
    body = tmp_path / "purchase.json"
    body.write_text(purchase_body("690"))
    sent = invoke("--database", url, "send", str(body), "--store", store.id)
    assert sent.exit_code == 0, sent.output
    warnings = json.loads(sent.stdout)["results"][0]["warnings"]
    coerced = [w for w in warnings if w["code"] == "coerced_boolean"]
    assert coerced and coerced[0]["message"] == '"true" was read as true'

    revenue = invoke(
        "--database", url, "report", "revenue", "--store", store.id, "--format", "json"
    )
    assert revenue.exit_code == 0 and "E+" not in revenue.stdout, revenue.stdout
    rest = http.get("/api/reports/revenue", headers=store.auth).json()
    assert json.loads(revenue.stdout) == rest
    carts = invoke("--database", url, "report", "carts", "--store", store.id, "--format", "json")
    assert json.loads(carts.stdout) == http.get("/api/reports/carts", headers=store.auth).json()

    listed = json.loads(
        invoke("--database", url, "carts", "list", "--json", "--store", store.id).stdout
    )
    assert listed == http.get("/api/carts", headers=store.auth).json()["items"]
    key = listed[0]["cartKey"]
    shown = invoke("--database", url, "carts", "show", key, "--store", store.id).stdout
    assert json.loads(shown) == http.get(f"/api/carts/{key}", headers=store.auth).json()
    assert '"totalPrice":690' in shown.replace(" ", "")

    stores_json = json.loads(invoke("--database", url, "stores", "list", "--json").stdout)
    assert stores_json == [http.get("/api/store", headers=store.auth).json()]

    contact = json.loads(
        invoke("--database", url, "contacts", "show", "jane@example.com", "--json").stdout
    )
    rest_contact = http.get("/api/contacts/jane@example.com", headers=store.auth).json()
    activity = http.get("/api/contacts/jane@example.com/activity", headers=store.auth).json()
    assert contact.pop("activity") == activity["items"]
    assert contact == rest_contact

    table = invoke("--database", url, "contacts", "show", "jane@example.com", "--store", store.id)
    assert table.exit_code == 0
    assert "false" in table.stdout and "False" not in table.stdout and "None" not in table.stdout


def test_an_attempt_without_an_answer_shows_dashes(shop: tuple[str, str]) -> None:
    url, store_id = shop
    private = {"SHOPEVENTS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true"}
    added = invoke(
        "--database", url, "webhooks", "add", "http://127.0.0.1:1/hook", "--store", store_id,
        "--topic", "purchase.created", "--json", env=private,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    endpoint = json.loads(added.stdout)["id"]
    ping = invoke("--database", url, "webhooks", "ping", endpoint, "--json")  # blocked: private
    delivery = json.loads(ping.stdout)["deliveryId"]
    assert json.loads(ping.stdout)["attempt"]["latencyMs"] is None
    shown = invoke("--database", url, "webhooks", "attempts", delivery)
    assert shown.exit_code == 0
    assert "HTTP -  - ms" in shown.stdout and "None" not in shown.stdout, shown.stdout


# --- the real entry point --------------------------------------------------------------------------


def run_bin(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SHOPEVENTS_DATABASE_URL", None)
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def one_error(proc: Any, *hints: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    for hint in hints:
        assert hint in proc.stderr, (hint, proc.stderr)


def test_version() -> None:
    proc = run_bin("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"shopevents {importlib.metadata.version('shopevents')}"


@pytest.mark.slow
def test_serve_and_migrate_with_a_bad_database(tmp_path: Path) -> None:
    one_error(run_bin("--database", "garbage", "serve"), "garbage", "sqlite:///")
    down = "postgresql://postgres@127.0.0.1:1/test"
    one_error(run_bin("--database", down, "migrate"), "not answering", "start it")
    target = tmp_path / "typo" / "x.db"
    port = str(free_port())
    one_error(run_bin("--database", f"sqlite:///{target}", "serve", "--port", port), str(target))
    assert not target.parent.exists()


def start_serve(url: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPEVENTS_")}
    proc = subprocess.Popen(
        [str(BIN), "--database", url, "serve", "--port", str(port), "--no-worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    return proc, port


def wait_up(port: int, proc: subprocess.Popen[str]) -> None:
    for _ in range(300):
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("serve did not answer")


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (proc.returncode, err)
    assert "Traceback" not in err and "Aborted" not in err, err
    return out, err


@pytest.mark.slow
def test_serve_logs_a_ready_line_and_an_access_log(shop: tuple[str, str]) -> None:
    url, store_id = shop
    proc, port = start_serve(url, "--access-log")
    wait_up(port, proc)
    ingest = f"http://127.0.0.1:{port}/integration-type/system/scrippet-notification/{store_id}"
    assert httpx.post(ingest, content=b'{"events": []}').status_code == 200
    out, err = stop(proc)
    ready = [ln for ln in err.splitlines() if "shopevents ready" in ln]
    assert len(ready) == 1 and f"http://127.0.0.1:{port}" in ready[0], err
    assert "shop.db" in ready[0] and "access log on" in ready[0]
    assert '"GET /healthz HTTP/1.1" 200' in out
    assert f'"POST /integration-type/system/scrippet-notification/{store_id} HTTP/1.1" 200' in out

    proc, port = start_serve(url, "--log-level", "warning")
    wait_up(port, proc)
    out, err = stop(proc)
    assert "shopevents ready" not in err and "INFO" not in err, err
    assert "/healthz" not in out  # no access log unless asked


def test_users_create_names_the_configured_address(shop: tuple[str, str]) -> None:
    url, _ = shop
    env = {"SHOPEVENTS_PORT": "9123"}
    made = invoke("--database", url, "users", "create", "ann", "--password", PASSWORD, env=env)
    assert made.exit_code == 0 and "http://127.0.0.1:9123/login" in made.stdout, made.output
    env = {"SHOPEVENTS_PUBLIC_URL": "https://events.example.com"}
    made = invoke("--database", url, "users", "create", "bob", "--password", PASSWORD, env=env)
    assert "https://events.example.com/login" in made.stdout, made.output
