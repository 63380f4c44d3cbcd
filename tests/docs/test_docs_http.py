"""The `curl` examples of README.md and docs/ are run, as written, against the real app on a
real port (SQLite in a temporary directory), in the order a reader meets them, and the answer
each shows (a `json` block right after, or a `# …` line under the command) is compared with
the real one. A shown `…` stands for anything; ids and times are compared by kind."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import SystemClock
from shopevents.config import Settings, WorkerSettings
from shopevents.storage.database import Database
from tests.conftest import LiveServer
from tests.docs.test_docs_commands import fenced, logical_lines

ROOT = Path(__file__).resolve().parents[2]
# Documents whose curl examples are run, each against a fresh database.
WALKS = ["README.md", "docs/quickstart.md", "docs/webhooks.md", "docs/events.md"]
# docs/http-api.md's examples are each right on a store of their own, not in sequence (its
# product import shows created 2 after its purchase example has already made one product).
ANY = "\u2026"
# Values that differ on every run: compared by kind (text), not by value.
VOLATILE = {"trackerId", "id", "createdAt", "storeId", "apiKeyId", "apiKeySecret", "secret"}


class Walk:
    """A fresh database and server, and the store the document's commands work on."""

    def __init__(self, tmp: Path) -> None:
        self.url = f"sqlite:///{tmp / 'shopevents.db'}"
        self.db = Database(self.url)
        self.db.migrate()
        self.cli = CliRunner()
        made = self.shopevents("stores", "create", "My shop", "--json")
        self.store, self.key_id, self.secret = (
            made["storeId"],
            made["apiKeyId"],
            made["apiKeySecret"],
        )
        settings = Settings(database_url=self.url, worker=WorkerSettings(enabled=False))
        self.server = LiveServer(settings, self.db, SystemClock()).start()

    def shopevents(self, *args: str) -> Any:
        result = self.cli.invoke(main, ["--database", self.url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STORE": self.store,
            "KEY": f"{self.key_id}:{self.secret}",
            "KEY_ID": self.key_id,
            "KEY_SECRET": self.secret,
        }

    def run(self, command: str) -> tuple[int, str]:
        """The command as written, sent to this server; (HTTP status, body)."""
        command = command.replace("http://127.0.0.1:8000", self.server.url)
        command = command.replace("STORE_ID", self.store)
        command = re.sub(r"\bcurl ", "curl -w '\\n%{http_code}' ", command, count=1)
        out = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, env=self.env(), capture_output=True, text=True
        )
        assert out.returncode == 0, f"`{command}` failed: {out.stderr}"
        body, _, status = out.stdout.rpartition("\n")
        return int(status), body

    def close(self) -> None:
        self.server.stop()


def shown_value(text: str) -> Any:
    """A shown answer as data: `…`, `...` and `{...}` become ANY."""
    text = re.sub(r"\{\.\.\.\}|\{…\}", lambda _: json.dumps(ANY), text)
    text = re.sub(r",\s*(\.\.\.|…)\s*([}\]])", r"\2", text)  # `, ...}`: more fields
    return json.loads(text)


def matches(shown: Any, real: Any, key: str = "") -> bool:
    if shown == ANY or (isinstance(shown, str) and shown.endswith(("…", "..."))):
        return True
    if isinstance(shown, str) and "(...)" in shown:  # abridged: the text up to there
        return isinstance(real, str) and real.startswith(shown.split("(...)")[0])
    if key in VOLATILE:
        return type(shown) is type(real)
    if isinstance(shown, dict):
        return isinstance(real, dict) and all(
            k in real and matches(v, real[k], k) for k, v in shown.items()
        )
    if isinstance(shown, list):
        return (
            isinstance(real, list)
            and len(shown) == len(real)
            and all(matches(s, r, key) for s, r in zip(shown, real, strict=True))
        )
    return bool(shown == real)


def examples(doc: str) -> list[tuple[str, tuple[int | None, Any] | None]]:
    """Every curl command of the document, in order, with the answer it shows (the status if
    shown, and the body), or None."""
    text = (ROOT / doc).read_text()
    blocks = fenced(text)
    out: list[tuple[str, tuple[int | None, Any] | None]] = []
    for i, (lang, block) in enumerate(blocks):
        if lang not in ("bash", "sh", "console", ""):
            continue
        lines = logical_lines(block)
        raw = block.splitlines()
        for line in lines:
            if not re.search(r"(^|\| *)curl ", line):
                continue
            answer: tuple[int | None, Any] | None = None
            last = next(
                (j for j, r in enumerate(raw) if r.strip() and line.endswith(r.strip()[-40:])),
                None,
            )
            after = raw[last + 1] if last is not None and last + 1 < len(raw) else ""
            if after.startswith("# ") and re.match(r"# (\d{3} )?[{\[]", after):
                mt = re.match(r"# (?:(\d{3}) )?(.*)$", after)
                assert mt
                answer = (int(mt.group(1)) if mt.group(1) else None, shown_value(mt.group(2)))
            elif line == lines[-1] and i + 1 < len(blocks) and blocks[i + 1][0] == "json":
                between = text.split(block, 1)[1].split(blocks[i + 1][1], 1)[0]
                if between.strip() in ("```\n\n```json", "```\n```json"):
                    answer = (None, shown_value(blocks[i + 1][1]))
            out.append((line, answer))
    return out


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    w = Walk(tmp_path)
    yield w
    w.close()


def test_every_walked_document_has_examples() -> None:
    for doc in WALKS:
        assert examples(doc), f"{doc}: no curl example found"
    assert any(a for _, a in examples("docs/quickstart.md"))


@pytest.mark.parametrize("doc", WALKS)
def test_curl_examples_get_the_answers_shown(doc: str, walk: Walk) -> None:
    for command, answer in examples(doc):
        status, body = walk.run(command)
        assert status < 500, f"{doc}: `{command}` got {status}: {body}"
        if answer is None:
            assert status < 400, f"{doc}: `{command}` got {status}: {body}"
            continue
        want_status, want = answer
        if want_status is not None:
            assert status == want_status, f"{doc}: `{command}` got {status}: {body}"
        real = json.loads(body)
        assert matches(want, real), (
            f"{doc}: `{command}` shows\n{json.dumps(want)}\nbut the answer is\n{body}"
        )


def seed(walk: Walk, change: dict[str, Any] | None = None) -> dict[str, Any]:
    import httpx

    body = json.loads((ROOT / "docs/examples/seed-purchase.json").read_text())
    if change:
        next(e for e in body["events"] if e["type"] == "purchase")["purchase"].update(change)
    r = httpx.post(
        f"{walk.server.url}/integration-type/system/scrippet-notification/{walk.store}",
        content=json.dumps(body),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["results"][0]
    return out


def test_what_the_quickstart_and_readme_say_happens_next(walk: Walk) -> None:
    import httpx

    quickstart = (ROOT / "docs/quickstart.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert seed(walk)["status"] == "accepted"
    # "Send it again: the purchase is now "duplicate""
    assert 'Send it again: the purchase is now `"duplicate"`' in quickstart
    assert "Post it again and the purchase is `duplicate`" in readme
    assert seed(walk)["status"] == "duplicate"
    # "change its totalPrice and it is conflict; neither changes the revenue"
    assert "change its `totalPrice` and it is `conflict`" in readme
    assert seed(walk, {"totalPrice": 99.0})["status"] == "conflict"
    auth = {"Authorization": f"apiKey {walk.key_id}:{walk.secret}"}
    contact = httpx.get(f"{walk.server.url}/api/contacts/jane@example.com", headers=auth).json()
    shown = re.search(r'"_totalPurchases": (\d+), "_totalPurchasesAmount": ([\d.]+)', quickstart)
    assert shown, "the quickstart no longer shows the contact's aggregates"
    assert contact["_totalPurchases"] == int(shown.group(1))
    assert contact["_totalPurchasesAmount"] == float(shown.group(2))
    # "`GET /healthz` answers `{"status": "ok"}`, `GET /readyz` `{"status": "ready"}`."
    assert '`GET /healthz` answers `{"status": "ok"}`, `GET /readyz` `{"status": "ready"}`' in (
        quickstart
    )
    assert httpx.get(f"{walk.server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{walk.server.url}/readyz").json() == {"status": "ready"}


def test_the_answers_errors_md_shows_are_the_real_ones(walk: Walk) -> None:
    """The three answers at the top of docs/errors.md: a body missing a comma, a REST purchase
    with a negative total, an ingest request whose third event is an empty search."""
    import httpx

    shown = [shown_value(b) for lang, b in fenced((ROOT / "docs/errors.md").read_text())[:3]]
    ingest = f"{walk.server.url}/integration-type/system/scrippet-notification/{walk.store}"
    r = httpx.post(ingest, content=b'{"events": [{"type": "login"} {"type": "search"}]}')
    assert r.status_code == 400 and matches(shown[0], r.json()), r.text
    purchase = json.loads((ROOT / "docs/examples/events/purchase.valid.json").read_text())
    body = {**purchase["purchase"], "totalPrice": -1}
    auth = {"Authorization": f"apiKey {walk.key_id}:{walk.secret}"}
    r = httpx.post(f"{walk.server.url}/api/purchases/", json=body, headers=auth)
    assert r.status_code == 422 and matches(shown[1], r.json()), r.text
    events = [{"type": "page-visit"}, {"type": "page-visit"}, {"type": "search", "searchText": ""}]
    r = httpx.post(ingest, content=json.dumps({"events": events}))
    assert r.status_code == 200 and matches(shown[2], r.json()["results"][2]), r.text


def console_json_examples(doc: str) -> list[tuple[str, Any]]:
    """`$ shopevents …` commands of the document's console blocks whose shown output is
    JSON: (the command, the output shown)."""
    out = []
    for lang, block in fenced((ROOT / doc).read_text()):
        if lang != "console":
            continue
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ shopevents "):
                continue
            command, j = line[2:], i + 1
            while command.endswith("\\") and j < len(lines):
                command, j = command[:-1] + " " + lines[j].strip(), j + 1
            if j < len(lines) and lines[j].startswith("{"):
                out.append((command, shown_value(lines[j])))
    return out


@pytest.mark.parametrize("doc", WALKS)
def test_json_printed_by_the_cli_commands_shown(doc: str, walk: Walk) -> None:
    from tests.docs.test_docs_commands import words

    for command, shown in console_json_examples(doc):
        args = [w.replace("STORE_ID", walk.store) for w in words(command)[1:]]
        real = walk.shopevents(*args)
        assert matches(shown, real), f"{doc}: `{command}` shows {shown}, prints {real}"


def test_console_json_examples_are_found() -> None:
    assert console_json_examples("docs/webhooks.md")


def test_send_answers_as_the_server_does(walk: Walk) -> None:
    """The quickstart: "Without a server, `shopevents send` does the same through the same
    code": its answer is the one the quickstart shows for the curl."""
    quickstart = (ROOT / "docs/quickstart.md").read_text()
    assert "Without a server, `shopevents send` does the same" in quickstart
    shown = next(a for c, a in examples("docs/quickstart.md") if "seed-purchase" in c)
    assert shown is not None
    seed = str(ROOT / "docs/examples/seed-purchase.json")
    real = walk.shopevents("send", seed, "--store", walk.store)
    assert matches(shown[1], real), real


ALL_DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def commented_json_examples(doc: str) -> list[tuple[str, Any]]:
    """`shopevents …` lines of shell blocks followed by the JSON they print, as a comment on
    the line or on the next: (the command, the output shown)."""
    out = []
    for lang, block in fenced((ROOT / doc).read_text()):
        if lang not in ("bash", "sh"):
            continue
        lines = [line.strip() for line in block.splitlines()]
        for i, line in enumerate(lines):
            if not line.startswith("shopevents "):
                continue
            command, _, comment = line.partition("#")
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if not comment.strip() and nxt.startswith("# {"):
                comment = nxt[1:]
            if comment.strip().startswith("{"):
                out.append((command.strip(), shown_value(comment.strip())))
    return out


@pytest.mark.parametrize("doc", [d for d in ALL_DOCS if commented_json_examples(d)])
def test_json_a_shell_comment_shows_is_what_the_command_prints(doc: str, walk: Walk) -> None:
    from tests.docs.test_docs_commands import words

    for command, shown in commented_json_examples(doc):
        args = [walk.store if w in ("STORE_ID", "STORE", "ID") else w for w in words(command)[1:]]
        real = walk.shopevents(*args)
        assert matches(shown, real), f"{doc}: `{command}` shows {shown}, prints {real}"


def test_commented_json_examples_are_found() -> None:
    found = [c for d in ALL_DOCS for c, _ in commented_json_examples(d)]
    assert any("write-keys create" in c for c in found), found
