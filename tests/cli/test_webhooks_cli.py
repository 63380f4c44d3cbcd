"""`shopevents webhooks …` on SQLite and PostgreSQL, and the documented verification
examples (Python and JavaScript) run against real deliveries."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shopevents.cli.env import Env
from shopevents.cli.webhooks import webhooks_group
from shopevents.clock import FixedClock
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.storage.database import Database
from shopevents.webhooks import backoff
from tests.conftest import StoreInfo
from tests.webhooks_receiver import ROOT, Kit, Receiver, verify_example

JS_EXAMPLE = ROOT / "docs" / "examples" / "verify-webhook.js"


class Cli:
    def __init__(self, db: Database, clock: FixedClock, allow_private: bool = True) -> None:
        settings = Settings(
            database_url=db.url,
            worker=WorkerSettings(enabled=False),
            webhooks=WebhookSettings(allow_private_addresses=allow_private, timeout_seconds=2.0),
        )
        self.env = Env(settings)
        self.env.clock = clock  # type: ignore[assignment]
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(webhooks_group, list(args), obj=self.env)
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").output)


@pytest.fixture
def kit(db: Database, store: StoreInfo, clock: FixedClock) -> Iterator[Kit]:
    k = Kit(
        db,
        store.id,
        clock,
        Settings(webhooks=WebhookSettings(allow_private_addresses=True, timeout_seconds=2.0)),
    )
    yield k
    k.close()


@pytest.fixture
def cli(db: Database, clock: FixedClock) -> Cli:
    return Cli(db, clock)


def test_add_list_ping_remove(cli: Cli, kit: Kit) -> None:
    rec = kit.receiver()
    made = cli.json(
        "add",
        rec.url,
        "--store",
        kit.store_id,
        "--topic",
        "purchase.created",
        "--topic",
        "cart.abandoned",
    )
    assert isinstance(made, dict)
    assert made["id"].startswith("whe_") and made["secret"].startswith("whsec_")
    assert made["topics"] == ["purchase.created", "cart.abandoned"]
    rec.secret = made["secret"]

    listed = cli.json("list", "--store", kit.store_id)
    assert isinstance(listed, list) and [e["id"] for e in listed] == [made["id"]]
    assert "secret" not in listed[0]

    out = cli("ping", made["id"]).output
    assert "delivered" in out and "HTTP 200" in out
    (got,) = rec.received
    assert got.valid and got.json["topic"] == "ping"

    text = cli("list", "--store", kit.store_id).output
    assert made["id"] in text and "delivered 1" in text and "success 100.0%" in text

    queued = cli.json("ping", made["id"], "--queue-only")
    assert isinstance(queued, dict) and queued["status"] == "pending"
    assert len(rec.received) == 1
    kit.run()
    assert len(rec.received) == 2

    assert "removed" in cli("remove", made["id"]).output
    assert cli.json("list", "--store", kit.store_id) == []
    gone = cli("remove", made["id"], ok=False)
    assert gone.exit_code != 0 and "no webhook endpoint" in gone.output


def test_add_refuses_bad_input(cli: Cli, kit: Kit, db: Database, clock: FixedClock) -> None:
    bad_topic = cli(
        "add", "https://example.com/x", "--store", kit.store_id, "--topic", "nope", ok=False
    )
    assert bad_topic.exit_code == 2 and "nope" in bad_topic.output
    bad_url = cli(
        "add", "ftp://example.com/x", "--store", kit.store_id, "--topic", "ping", ok=False
    )
    assert bad_url.exit_code == 1 and "http" in bad_url.output
    no_store = cli(
        "add", "https://example.com/x", "--store", "missing", "--topic", "ping", ok=False
    )
    assert no_store.exit_code == 1 and "no store" in no_store.output
    strict = Cli(db, clock, allow_private=False)
    private = strict(
        "add", "http://127.0.0.1:9/x", "--store", kit.store_id, "--topic", "ping", ok=False
    )
    assert private.exit_code == 1 and "allow_private_addresses" in private.output


def test_dead_letters_are_visible_and_replayed(cli: Cli, kit: Kit) -> None:
    rec = kit.receiver()
    rec.fail_times = 10_000
    made = cli.json("add", rec.url, "--store", kit.store_id, "--topic", "cart.abandoned")
    assert isinstance(made, dict)
    rec.secret = made["secret"]
    kit.emit("cart.abandoned", {"cartId": "K1", "contactId": "c1"})
    kit.emit("cart.abandoned", {"cartId": "K2", "contactId": "c2"})
    kit.run()
    for _ in range(30):
        kit.clock.advance(backoff.SCHEDULE[-1] * 1.21)
        kit.run()
    dead = cli.json("deliveries", "--store", kit.store_id, "--status", "dead")
    assert isinstance(dead, list) and len(dead) == 2
    assert all(d["attempts"] == backoff.MAX_ATTEMPTS for d in dead)
    text = cli("deliveries", "--store", kit.store_id, "--status", "dead").output
    # The status is the second column (an id's hex digits may spell "dead" too).
    statuses = [line.split()[1] for line in text.splitlines() if line.startswith("whd_")]
    assert statuses == ["dead", "dead"] and "HTTP 500" in text
    log = cli("attempts", dead[0]["id"]).output
    assert log.count("HTTP 500") == backoff.MAX_ATTEMPTS and "try later" in log

    rec.fail_times = 0
    one = cli("replay", dead[0]["id"]).output
    assert "re-queued" in one and "was dead" in one
    assert "re-queued 1 delivery" in cli("replay", "--dead", "--store", kit.store_id).output
    pending = cli.json("deliveries", "--store", kit.store_id, "--status", "pending")
    assert isinstance(pending, list) and {d["attempts"] for d in pending} == {0}
    kit.run()
    delivered = cli.json("deliveries", "--store", kit.store_id, "--status", "delivered")
    assert isinstance(delivered, list)
    assert sorted(d["id"] for d in delivered) == sorted(d["id"] for d in dead)
    assert rec.received[-1].id in {d["id"] for d in dead}
    refused = cli("replay", dead[0]["id"], ok=False)
    assert refused.exit_code == 1 and "delivered" in refused.output
    assert cli("replay", ok=False).exit_code == 2
    # one store: --store may be left out
    assert "re-queued 0 deliveries" in cli("replay", "--dead").output


def test_verification_examples_python_and_javascript(kit: Kit, tmp_path: Path) -> None:
    rec = kit.receiver()
    kit.endpoint(rec, ["purchase.created"])
    kit.emit("purchase.created", {"purchaseId": "P-ü", "totalPrice": 10.5})
    kit.run()
    (got,) = rec.received
    assert got.valid  # the receiver checks every request with docs/examples/verify_webhook.py
    header = got.headers["shopevents-signature"]
    now = kit.clock.now().timestamp()
    body = tmp_path / "body.json"
    body.write_bytes(got.body)
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(got.body.replace(b"10.5", b"99.5"))

    assert verify_example.verify_webhook(rec.secret, header, got.body, now)
    assert not verify_example.verify_webhook(rec.secret, header, tampered.read_bytes(), now)
    assert not verify_example.verify_webhook(rec.secret, header, got.body, now + 301)
    assert not verify_example.verify_webhook("whsec_wrong", header, got.body, now)

    node = shutil.which("node")
    assert node, "node is needed to run the JavaScript example"

    def js(secret: str, path: Path, at: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, str(JS_EXAMPLE), secret, header, str(path), str(at)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    ok = js(rec.secret, body, now)
    assert ok.returncode == 0 and ok.stdout.strip() == "valid", ok.stderr
    assert js(rec.secret, tampered, now).returncode == 1
    assert js(rec.secret, body, now + 301).returncode == 1  # older than five minutes
    assert js(rec.secret, body, now - 301).returncode == 1
    assert js("whsec_wrong", body, now).returncode == 1


def test_python_example_runs_as_a_script(kit: Kit, tmp_path: Path) -> None:
    import sys

    rec = kit.receiver()
    kit.endpoint(rec, ["ping"])
    kit.emit("ping", {})
    kit.run()
    (got,) = rec.received
    body = tmp_path / "body.json"
    body.write_bytes(got.body)
    script = ROOT / "docs" / "examples" / "verify_webhook.py"
    now = str(kit.clock.now().timestamp())
    header = got.headers["shopevents-signature"]
    run = subprocess.run(
        [sys.executable, str(script), rec.secret, header, str(body), now],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0 and run.stdout.strip() == "valid"


def test_receiver_refuses_unsigned_requests(kit: Kit) -> None:
    import httpx

    rec = kit.receiver()
    rec.secret = "whsec_x"
    r = httpx.post(rec.url, content=b"{}", headers={"Shopevents-Signature": "t=1,v1=00"})
    assert r.status_code == 400
    assert isinstance(rec, Receiver) and not rec.received[0].valid
