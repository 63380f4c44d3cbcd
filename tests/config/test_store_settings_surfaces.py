"""One rule per store setting: the table of tests/config/test_store_settings.py run through the
three surfaces that change a store's settings, on both backends: `shopevents stores update`
(click's runner, in-process), the dashboard's settings form and PATCH /api/store (real HTTP).
Each surface stores the same value, or refuses with the same message (the CLI: one line
naming the option, no traceback; the REST API: a validation problem with the field's path;
the dashboard: the form's error, the setting's label then the message) and changes nothing."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import FixedClock
from shopevents.config import Settings
from shopevents.domain.store_settings import SETTINGS
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.config.test_store_settings import JSON_TABLE, REFUSED, TABLE, ids
from tests.conftest import LiveServer, StoreInfo
from tests.dashboard.support import add_user, login, owner_hooks, start_server

FORM = {
    "name": "name",
    "currency": "currency",
    "timezone": "timezone",
    "domains": "domains",
    "abandonAfterSeconds": "abandon_after",
    "excludedPaths": "excluded_paths",
}
"""The settings form's text fields (its on/off settings are checkboxes, and it has no
reporting currency)."""

BASE_FORM = {
    "name": "Shop", "currency": "EUR", "timezone": "UTC", "domains": "", "abandon_after": "30m",
    "excluded_paths": "", "tracking_enabled": "1",
}  # fmt: skip


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, FixedClock(datetime(2026, 4, 15, 12, 0, tzinfo=UTC)))
    yield srv
    srv.stop()


@pytest.fixture
def web(live: LiveServer, db: Database) -> Iterator[httpx.Client]:
    add_user(db)
    with httpx.Client(base_url=live.url, timeout=30, event_hooks=owner_hooks(db)) as client:
        yield client


def stored(db: Database, store: StoreInfo, name: str) -> Any:
    with db.reader() as c:
        rec = stores.get_store(c, store.id)
    assert rec is not None
    return getattr(rec, SETTINGS[name].column)


def via_api(web: httpx.Client, store: StoreInfo, name: str, given: Any) -> str | None:
    """The message of a refusal, or None."""
    r = web.patch("/api/store", headers=store.auth, json={name: given})
    if r.status_code == 200:
        return None
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_failed", body
    [err] = body["validationErrors"]
    assert err["path"].startswith(f"/{name}"), err
    return str(err["reason"])


def via_cli(db_url: str, store: StoreInfo, name: str, given: Any) -> str | None:
    option = SETTINGS[name].option
    if isinstance(given, list):
        args = [f"{option}={v}" for v in given] or ["--clear-domains"]
    else:
        args = [f"{option}={given}"]
    result = CliRunner().invoke(
        main, ["--database", db_url, "stores", "update", store.id, *args, "--json"]
    )
    text = result.output + result.stderr
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    if result.exit_code == 0:
        return None
    assert result.exit_code == 2, text
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    head = f"Error: Invalid value for {option}: "
    assert line.replace("'", "", 2).startswith(head), line  # click may quote the option
    return line.split(f"{option}", 1)[1].lstrip("': ")


def via_form(web: httpx.Client, csrf: str, store: StoreInfo, name: str, given: Any) -> str | None:
    value = "\n".join(given) if isinstance(given, list) else given
    r = web.post(
        f"/stores/{store.id}/settings", data={**BASE_FORM, "csrf": csrf, FORM[name]: value}
    )
    if r.status_code == 303:
        return None
    assert r.status_code == 422, r.text[:500]
    label = SETTINGS[name].label
    errors = [html.unescape(e) for e in r.text.split('role="alert">')[1:]]
    [error] = [e.split("</div>")[0] for e in errors]
    assert error.startswith(f"{label}: "), error
    return error.removeprefix(f"{label}: ")


SURFACES = ["cli", "dashboard", "api"]


@pytest.mark.parametrize("surface", SURFACES)
def test_every_surface_stores_or_refuses_as_the_table_says(
    surface: str, db_url: str, db: Database, store: StoreInfo, live: LiveServer, web: httpx.Client
) -> None:
    csrf = login(web) if surface == "dashboard" else ""
    wrong: list[str] = []
    rows = [r for r in TABLE if surface != "dashboard" or r[0] in FORM]
    for (name, given, expected, hint), row in zip(rows, ids(rows), strict=True):
        before = stored(db, store, name)
        if surface == "cli":
            refusal = via_cli(db_url, store, name, given)
            live.ctx.forget_store(store.id)
        elif surface == "dashboard":
            refusal = via_form(web, csrf, store, name, given)
        else:
            refusal = via_api(web, store, name, given)
        after = stored(db, store, name)
        if expected is REFUSED:
            # the message is the API's, word for word, on each surface
            api_says = via_api(web, store, name, given)
            if refusal is None or refusal != api_says or hint not in refusal:
                wrong.append(f"{row}: refused with {refusal!r}; the API says {api_says!r}")
            elif after != before:
                wrong.append(f"{row}: refused but {before!r} became {after!r}")
        elif refusal is not None or after != expected:
            wrong.append(f"{row}: expected {expected!r}, got {after!r} (refusal {refusal!r})")
    assert not wrong, "\n".join(wrong)
    if surface == "dashboard":
        assert len(rows) < len(TABLE)  # the on/off rows are the checkboxes' (below)


def test_the_form_checkboxes_are_the_on_off_settings(
    db: Database, store: StoreInfo, web: httpx.Client
) -> None:
    csrf = login(web)
    flags = {"tag_mode": "tagMode", "consent_required": "consentRequired", "keep_bots": "keepBots"}
    for field, name in flags.items():
        for ticked in (True, False):
            form = {**BASE_FORM, "csrf": csrf, **({field: "1"} if ticked else {})}
            assert web.post(f"/stores/{store.id}/settings", data=form).status_code == 303
            assert stored(db, store, name) is ticked


def test_json_values_through_the_api(db: Database, store: StoreInfo, web: httpx.Client) -> None:
    """What only JSON can say (the unit tests' second table): numbers and booleans as such,
    and values of another type."""
    wrong: list[str] = []
    for (name, given, expected, hint), row in zip(JSON_TABLE, ids(JSON_TABLE), strict=True):
        if isinstance(given, float) and given != given:
            continue  # NaN is not JSON: refused before any rule (test_numbers.py)
        content = json.dumps({name: given}, default=str).replace('"1E+3"', "1E+3")
        r = web.patch("/api/store", headers=store.auth, content=content)
        if expected is REFUSED:
            errors = r.json().get("validationErrors") or [{}]
            if r.status_code != 422 or hint not in errors[0].get("reason", ""):
                wrong.append(f"{row}: {r.status_code} {r.text[:300]}")
        elif r.status_code != 200 or stored(db, store, name) != expected:
            wrong.append(f"{row}: {r.status_code} {r.text[:300]}")
    assert not wrong, "\n".join(wrong)
