"""The docs say what the code does: every error code, setting, CLI command, event type and
model is documented, and the examples shown in docs/events.md are the files the tests post,
with the verdicts they really get."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest

from shopevents.cli import main
from shopevents.config import describe, documented_settings, env_name, rules
from shopevents.errors import CATALOG
from shopevents.schema import models as m
from shopevents.schema.verdicts import (
    CheckContext,
    Verdict,
    decode_cart,
    decode_entity,
    decode_event,
    read_envelope,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
# Every page of docs/ (the commands they show are parsed in test_docs_commands.py, their curl
# examples run in test_docs_http.py).
MINE = sorted(p.stem for p in DOCS.glob("*.md"))
MODELS = ["entityInfo", "cart", "product", "basket-line"]


def doc(name: str) -> str:
    return (DOCS / f"{name}.md").read_text()


# --- examples and their verdicts ------------------------------------------------------------


def envelope_for(kind: str, name: str, obj: Any) -> dict[str, Any]:
    """How an example of each model travels in an ingest request (as docs/events.md says)."""
    if kind == "events":
        return {"events": [obj]}
    return {
        "entityInfo": lambda: {"entityInfo": obj},
        "cart": lambda: {"cart": obj},
        "product": lambda: {"events": [{"type": "product-visited", "product": obj}]},
        "basket-line": lambda: {
            "cart": {"cartId": "c-1", "totalQuantity": 3, "totalPrice": 74.7, "products": [obj]}
        },
    }[name]()


def verdict_of(kind: str, name: str, obj: Any) -> Verdict:
    body = json.dumps(envelope_for(kind, name, obj)).encode()
    env = read_envelope(body)
    ctx = CheckContext(now=datetime.now(UTC), currency="EUR", domains=["shop.example"])
    if len(env.events):
        return decode_event(bytes(env.events[0]), 0, ctx, 32 * 1024)
    if len(env.cart):
        return decode_cart(bytes(env.cart), ctx)
    return decode_entity(bytes(env.entityInfo), ctx)


def outcome(v: Verdict) -> str:
    """The line docs/events.md shows under an invalid example."""
    if v.status == "rejected":
        assert v.error is not None
        e = v.error
        return f"→ `rejected`: `{e['code']}` at `{e['path']}`: {e['message']}"
    w = v.warnings[0]
    return f"→ `accepted`, with the warning `{w['code']}` at `{w['path']}`: {w['message']}"


def examples() -> list[tuple[str, str]]:
    return [("events", t) for t in m.EVENT_TYPES] + [("models", n) for n in MODELS]


@pytest.mark.parametrize(("kind", "name"), examples(), ids=[f"{k}/{n}" for k, n in examples()])
def test_events_doc_shows_the_example_files_and_their_verdicts(kind: str, name: str) -> None:
    text = doc("events")
    valid = (EXAMPLES / kind / f"{name}.valid.json").read_text()
    invalid = (EXAMPLES / kind / f"{name}.invalid.json").read_text()
    assert f"```json\n{valid}```" in text, f"{kind}/{name}.valid.json is not shown as is"
    assert f"```json\n{invalid}```" in text, f"{kind}/{name}.invalid.json is not shown as is"
    v = verdict_of(kind, name, json.loads(valid))
    assert v.status == "accepted" and v.warnings == [], v
    line = outcome(verdict_of(kind, name, json.loads(invalid)))
    assert line in text, f"docs/events.md should say:\n{line}"
    assert re.search(rf"^##+ .*`{re.escape(name)}`", text, re.M), f"no heading for `{name}`"


def test_every_event_type_and_model_is_in_the_events_doc() -> None:
    text = doc("events")
    for t in m.EVENT_TYPES:
        assert f"`{t}`" in text
    for field in (
        "primaryKey",
        "cartId",
        "productDetailUrl",
        "quantity",
        "purchaseId",
        "source_type",
    ):
        assert f"`{field}`" in text


# --- codes, settings, commands ------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_code_is_in_errors_doc(code: str) -> None:
    text = doc("errors")
    assert f"| `{code}` |" in text, f"docs/errors.md has no table row for `{code}`"
    entry = CATALOG[code]
    if entry.kind == "request":
        row = next(r for r in text.splitlines() if r.startswith(f"| `{code}` |"))
        assert f"| {entry.status} |" in row, f"the row for `{code}` should give HTTP {entry.status}"


def test_http_api_doc_names_every_request_code_the_endpoints_answer() -> None:
    text = doc("http-api")
    for code in (
        "invalid_json",
        "invalid_envelope",
        "unknown_store",
        "origin_not_allowed",
        "payload_too_large",
        "too_many_events",
        "unsupported_encoding",
        "rate_limited",
        "storage_unavailable",
        "unauthorized",
        "not_found",
        "validation_failed",
        "purchase_conflict",
    ):
        assert f"`{code}`" in text or f" {code}" in text, code
    for status in (
        "200",
        "204",
        "400",
        "403",
        "413",
        "415",
        "429",
        "503",
        "201",
        "401",
        "404",
        "409",
        "422",
    ):
        assert status in text, status


@pytest.mark.parametrize(("name", "default"), [(n, d) for n, _, d in documented_settings()])
def test_every_setting_is_in_configuration_doc_with_its_rule(name: str, default: Any) -> None:
    """Its row gives the variable, the default and what the setting's rule allows."""
    text = doc("configuration")
    row = next((r for r in text.splitlines() if r.startswith(f"| `{name}` |")), None)
    assert row, f"docs/configuration.md has no table row for `{name}`"
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[1] == f"`{env_name(name)}`", f"{name}: the variable is `{env_name(name)}`"
    assert cells[2] == f"`{json.dumps(default)}`", f"{name}: the default is {default!r}"
    assert cells[3] == describe(rules()[name].type), (
        f"{name}: the Allowed column should say: {describe(rules()[name].type)}"
    )


def test_every_setting_has_a_docstring() -> None:
    for name, text, _ in documented_settings():
        assert text, f"{name} has no docstring in config/settings.py"


def commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        out.append(full)
        if isinstance(cmd, click.Group):
            out.extend(commands(cmd, full + " "))
    return out


@pytest.mark.parametrize("command", commands(main))
def test_every_cli_command_is_in_cli_doc(command: str) -> None:
    assert f"shopevents {command}" in doc("cli"), (
        f"docs/cli.md does not show `shopevents {command}`"
    )


# --- the docs hold together ---------------------------------------------------------------------


@pytest.mark.parametrize("name", MINE)
def test_relative_links_resolve(name: str) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc(name)):
        assert (DOCS / target).exists(), f"docs/{name}.md links to missing {target}"


@pytest.mark.parametrize("name", MINE)
def test_json_blocks_parse(name: str) -> None:
    for block in re.findall(r"```json\n(.*?)```", doc(name), re.S):
        if "..." in block or "…" in block:
            continue  # an abridged illustration
        json.loads(block)


def test_quickstart_mentions_the_essentials() -> None:
    text = doc("quickstart")
    for piece in (
        "shopevents migrate",
        "shopevents stores create",
        "shopevents serve",
        "seed-purchase.json",
        "apiKey",
        "postgresql://",
    ):
        assert piece in text, piece


def test_architecture_states_the_durability_promise() -> None:
    text = doc("architecture")
    for piece in ("synchronous=NORMAL", "FULL", "power", "group commit", "200", "SIGKILL"):
        assert piece in text, piece
