"""`shopevents stores write-keys create|list|revoke`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from shopevents.cli import main


def test_write_keys_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run = CliRunner()

    def cli(*args: str) -> str:
        res = run.invoke(main, ["--database", url, *args])
        assert res.exit_code == 0, res.output
        return res.output

    cli("migrate")
    store = json.loads(cli("stores", "create", "Shop", "--json"))["storeId"]
    created = json.loads(cli("stores", "write-keys", "create", store, "--json"))
    assert len(created["writeKey"]) >= 40
    listed = json.loads(cli("stores", "write-keys", "list", store, "--json"))
    assert [k["id"] for k in listed] == [created["id"]] and listed[0]["revokedAt"] is None
    assert created["writeKey"] not in json.dumps(listed)
    assert "revoked" in cli("stores", "write-keys", "revoke", store, created["id"])
    res = run.invoke(
        main, ["--database", url, "stores", "write-keys", "revoke", store, created["id"]]
    )
    assert res.exit_code != 0
    res = run.invoke(main, ["--database", url, "stores", "write-keys", "create", "nope"])
    assert res.exit_code != 0 and "no store" in res.output
