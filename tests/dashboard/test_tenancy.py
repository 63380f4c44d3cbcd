"""Tenancy in the dashboard, over real HTTP on both backends: an account sees only its stores
with its role (viewer, admin, owner); sessions live on the server (logout, revocation and a
password change end them); the CLI grants and revokes.

The refusal tests walk the dashboard's own route table, so a page added later is covered."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.routing import BaseRoute, Mount, Route

from shopevents.cli import main
from shopevents.clock import SystemClock
from shopevents.config import Settings
from shopevents.storage import accounts
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, make_store
from tests.dashboard.support import (
    PASSWORD,
    add_user,
    grant,
    login,
    start_server,
)

STORE_PREFIX = "/stores/{store_id}"

# A form that would change something on every action if it were let through.
EVIL_FORM = {
    "name": "Taken over",
    "currency": "USD",
    "timezone": "UTC",
    "abandon_after": "5m",
    "domains": "evil.example",
    "url": "https://evil.example/hook",
    "topics": "purchase.created",
    "description": "x",
    "action": "remove",
    "all": "1",
    "id": "1",
    "username": "viewer",
    "role": "owner",
    "amount": "1",
    "refund_id": "r1",
    "alias": "evil",
    "contact_email": "/email",
    "kind": "contacts",
}


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, SystemClock())  # the CLI reads sessions at its own time
    yield srv
    srv.stop()


@pytest.fixture
def shops(db: Database) -> tuple[StoreInfo, StoreInfo]:
    a = make_store(db, "Shop A")
    b = make_store(db, "Shop B")
    add_user(db, "owner", owner=False)
    add_user(db, "admin", owner=False)
    add_user(db, "viewer", owner=False)
    add_user(db, "nobody", owner=False)
    grant(db, "owner", a.id, "owner")
    grant(db, "owner", b.id, "owner")
    grant(db, "admin", a.id, "admin")
    grant(db, "viewer", a.id, "viewer")
    return a, b


def client(live: LiveServer, agent: str = "test-browser") -> httpx.Client:
    return httpx.Client(base_url=live.url, timeout=30, headers={"User-Agent": agent})


def every_route(routes: list[Any]) -> list[Route]:
    """The routes of a table, those of its sub-applications (the dashboard's pages) included."""
    out: list[Route] = []
    for r in routes:
        if isinstance(r, Route):
            out.append(r)
        elif isinstance(r, BaseRoute) and not isinstance(r, Mount):
            out.extend(every_route(getattr(r, "routes", [])))
    return out


def dashboard_routes(live: LiveServer) -> list[tuple[str, str]]:
    """(method, path) of every dashboard route: the app's route table, less the REST API,
    ingest and static files."""
    out = []
    for r in every_route(live.app.router.routes):
        p = r.path
        if not (p == "/" or p.startswith(("/stores", "/switch", "/log", "/account"))):
            continue
        for m in sorted(r.methods or ()):
            if m != "HEAD":
                out.append((m, p))
    assert len(out) > 30, out  # the dashboard has many pages; the table was read
    return out


def fill(path: str, store_id: str) -> str:
    path = path.replace("{store_id}", store_id)
    return re.sub(r"\{[^}]+\}", "x1", path)


def snapshot(db: Database) -> str:
    """A digest of every table's rows (sessions aside: their last-seen time moves)."""
    conn = db.connect()
    try:
        if conn.dialect == "postgres":
            names = [
                r[0]
                for r in conn.all(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() ORDER BY table_name"
                )
            ]
        else:
            names = [
                r[0]
                for r in conn.all(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
        h = hashlib.sha256()
        for name in names:
            if name == "dashboard_sessions" or name.startswith("sqlite_"):
                continue
            rows = sorted(repr(tuple(r)) for r in conn.all(f'SELECT * FROM "{name}"'))
            h.update(f"{name}:{len(rows)}:{'|'.join(rows)}".encode())
        return h.hexdigest()
    finally:
        conn.close()


def test_a_viewer_is_refused_every_other_store_and_every_action(
    live: LiveServer, db: Database, shops: tuple[StoreInfo, StoreInfo]
) -> None:
    a, b = shops
    routes = dashboard_routes(live)
    store_routes = [(m, p) for m, p in routes if p.startswith(STORE_PREFIX)]
    assert any(m == "POST" for m, _ in store_routes)
    with client(live) as web:
        csrf = login(web, "viewer")
        before = snapshot(db)
        for method, pattern in store_routes:
            path = fill(pattern, b.id)
            if method == "GET":
                r = web.get(path)
                if r.status_code == 307:  # /stores/{id} → /stores/{id}/, itself checked
                    assert r.headers["location"].endswith(path + "/")
                    continue
                assert r.status_code in (403, 404), f"GET {path}: {r.status_code}"
                assert "Shop B" not in r.text, f"GET {path} shows the other store"
            else:
                for sid in (b.id, a.id):  # the other store, and actions on its own store
                    target = fill(pattern, sid)
                    r = web.post(target, data={**EVIL_FORM, "csrf": csrf})
                    assert r.status_code in (403, 404), f"POST {target}: {r.status_code}"
        # Creating a store is an owner's action too.
        r = web.post("/stores", data={**EVIL_FORM, "csrf": csrf, "name": "Mine"})
        assert r.status_code == 403, r.status_code
        assert snapshot(db) == before, "a refused action changed the database"
        # The switcher and the home page know only store A.
        home = web.get("/", follow_redirects=True)
        assert home.status_code == 200 and "Shop A" in home.text and "Shop B" not in home.text
        assert web.get(f"/switch-store?store={b.id}").headers["location"] == "/"
        # Its own store's pages read fine, without keys.
        for method, pattern in store_routes:
            if method == "GET" and "{" not in pattern.replace("{store_id}", ""):
                path = fill(pattern, a.id)
                r = web.get(path, follow_redirects=True)
                assert r.status_code in (200, 403), f"GET {path}: {r.status_code}"
                if pattern.endswith("/accounts"):
                    assert r.status_code == 403
                else:
                    assert r.status_code == 200, f"GET {path}: {r.status_code}"
        settings = web.get(f"/stores/{a.id}/settings").text
        assert a.key_id not in settings and 'id="new-key"' not in settings
        assert "Add an endpoint" not in settings and "/keys/" not in settings
        for section in ("imports", "custom-events"):  # no forms it could not send
            html = web.get(f"/stores/{a.id}/{section}").text
            assert f'method="post" action="/stores/{a.id}/{section}"' not in html, section
    # The same actions by an admin go through (the refusals above were the role's doing).
    with client(live) as web:
        csrf = login(web, "admin")
        settings = web.get(f"/stores/{a.id}/settings").text
        assert a.key_id in settings
        form = {
            "csrf": csrf,
            "name": "Shop A renamed",
            "currency": "EUR",
            "timezone": "UTC",
            "abandon_after": "30m",
        }
        r = web.post(f"/stores/{a.id}/settings", data=form)
        assert r.status_code == 303, r.text[:300]
        assert "Shop A renamed" in web.get(f"/stores/{a.id}/settings").text
        assert web.get(f"/stores/{b.id}/").status_code == 404


def test_an_admin_cannot_manage_accounts_an_owner_can(
    live: LiveServer, db: Database, shops: tuple[StoreInfo, StoreInfo]
) -> None:
    a, _ = shops
    with client(live) as web:
        csrf = login(web, "admin")
        assert web.get(f"/stores/{a.id}/accounts").status_code == 403
        assert "/accounts" not in web.get(f"/stores/{a.id}/").text  # no Accounts link
        before = snapshot(db)
        r = web.post(
            f"/stores/{a.id}/accounts", data={"csrf": csrf, "username": "admin", "role": "owner"}
        )
        assert r.status_code == 403
        uid = user_id(db, "viewer")
        assert web.post(f"/stores/{a.id}/accounts/{uid}/revoke", data={"csrf": csrf}).status_code
        assert snapshot(db) == before
    with client(live, "viewer-browser") as viewer:
        login(viewer, "viewer")
        assert viewer.get(f"/stores/{a.id}/").status_code == 200
        with client(live) as web:
            csrf = login(web, "owner")
            page = web.get(f"/stores/{a.id}/accounts")
            assert page.status_code == 200 and "viewer" in page.text and "admin" in page.text
            # Grant an account with no access, change a role, revoke.
            r = web.post(
                f"/stores/{a.id}/accounts",
                data={"csrf": csrf, "username": "nobody", "role": "viewer"},
            )
            assert r.status_code == 303
            assert role(db, "nobody", a.id) == "viewer"
            r = web.post(
                f"/stores/{a.id}/accounts",
                data={"csrf": csrf, "username": "ghost", "role": "viewer"},
            )
            assert r.status_code == 422 and "no account" in r.text
            r = web.post(
                f"/stores/{a.id}/accounts",
                data={"csrf": csrf, "username": "nobody", "role": "emperor"},
            )
            assert r.status_code == 422 and role(db, "nobody", a.id) == "viewer"
            r = web.post(
                f"/stores/{a.id}/accounts",
                data={"csrf": csrf, "username": "admin", "role": "owner"},
            )
            assert r.status_code == 303 and role(db, "admin", a.id) == "owner"
            r = web.post(f"/stores/{a.id}/accounts/{uid}/revoke", data={"csrf": csrf})
            assert r.status_code == 303 and role(db, "viewer", a.id) is None
            # The revoked account's session ended at once.
            assert viewer.get(f"/stores/{a.id}/").status_code == 303
            # The last owner of a store stays.
            b_owner = user_id(db, "owner")
            grant(db, "admin", a.id, "viewer")
            r = web.post(f"/stores/{a.id}/accounts/{b_owner}/revoke", data={"csrf": csrf})
            assert r.status_code == 422 and role(db, "owner", a.id) == "owner"


def test_an_account_with_no_grant_sees_no_store(
    live: LiveServer, db: Database, shops: tuple[StoreInfo, StoreInfo]
) -> None:
    a, b = shops
    with client(live) as web:
        csrf = login(web, "nobody")
        home = web.get("/")
        assert home.status_code == 200 and "No store for this account" in home.text
        assert "Shop A" not in home.text and "store-switch" not in home.text
        for s in (a, b):
            assert web.get(f"/stores/{s.id}/").status_code == 404
        assert web.post("/stores", data={"csrf": csrf, "name": "Mine"}).status_code == 403


def test_a_cookie_taken_before_logout_is_refused_after(
    live: LiveServer, db: Database, shops: tuple[StoreInfo, StoreInfo]
) -> None:
    a, _ = shops
    with client(live) as web:
        csrf = login(web, "admin")
        stolen = web.cookies.get("shopevents_session")
        assert stolen and web.get(f"/stores/{a.id}/").status_code == 200
        assert web.post("/logout", data={"csrf": csrf}).status_code == 303
    with client(live) as thief:
        thief.cookies.set("shopevents_session", stolen)
        r = thief.get(f"/stores/{a.id}/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert thief.get(f"/stores/{a.id}/debugger/requests.json").status_code == 401


def test_sessions_are_listed_and_revoked(
    live: LiveServer, db: Database, shops: tuple[StoreInfo, StoreInfo]
) -> None:
    a, _ = shops
    with client(live, "Browser One") as one, client(live, "Browser Two") as two:
        csrf1 = login(one, "admin")
        login(two, "admin")
        page = one.get("/account/sessions")
        assert page.status_code == 200
        assert "Browser One" in page.text and "Browser Two" in page.text
        rows = sessions_of(db, "admin")
        assert len(rows) == 2
        # The cookie does not hold the row's id (only its token, signed).
        assert all(r["id"] not in (one.cookies.get("shopevents_session") or "") for r in rows)
        other = next(r["id"] for r in rows if r["userAgent"] == "Browser Two")
        r = one.post(f"/account/sessions/{other}/revoke", data={"csrf": csrf1})
        assert r.status_code == 303
        assert two.get(f"/stores/{a.id}/").status_code == 303
        assert one.get(f"/stores/{a.id}/").status_code == 200
        # Someone else's session cannot be revoked from here.
        with client(live, "Viewer") as viewer:
            login(viewer, "viewer")
            theirs = sessions_of(db, "viewer")[0]["id"]
            one.post(f"/account/sessions/{theirs}/revoke", data={"csrf": csrf1})
            assert viewer.get(f"/stores/{a.id}/").status_code == 200
            # "Sign out everywhere else".
            login(two, "admin")
            one.post("/account/sessions/revoke-others", data={"csrf": csrf1})
            assert two.get(f"/stores/{a.id}/").status_code == 303
            assert one.get(f"/stores/{a.id}/").status_code == 200
            # The CLI: list, revoke all, and a password change ends them too.
            db_url = db.url
            listed = cli("--database", db_url, "users", "sessions", "viewer")
            assert listed.exit_code == 0 and "Viewer" in listed.output, listed.output
            ended = cli("--database", db_url, "users", "revoke-sessions", "viewer")
            assert ended.exit_code == 0 and "1 session" in ended.output, ended.output
            assert viewer.get(f"/stores/{a.id}/").status_code == 303
            login(viewer, "viewer")
            changed = cli(
                "--database",
                db_url,
                "users",
                "set-password",
                "viewer",
                "--password",
                "another long password",
            )
            assert changed.exit_code == 0, changed.output
            assert viewer.get(f"/stores/{a.id}/").status_code == 303


def test_cli_grant_and_revoke(
    live: LiveServer, db: Database, shops: tuple[StoreInfo, StoreInfo]
) -> None:
    a, b = shops
    url = db.url
    ok = cli("--database", url, "users", "grant", "nobody", "--store", "Shop B", "--role", "admin")
    assert ok.exit_code == 0 and "admin" in ok.output, ok.output
    assert role(db, "nobody", b.id) == "admin"
    ok = cli("--database", url, "users", "revoke", "nobody", "--store", b.id)
    assert ok.exit_code == 0, ok.output
    assert role(db, "nobody", b.id) is None
    made = cli(
        "--database", url, "users", "create", "carol", "--password", PASSWORD,
        "--store", a.id, "--role", "admin",
    )  # fmt: skip
    assert made.exit_code == 0 and role(db, "carol", a.id) == "admin", made.output
    bare = cli("--database", url, "users", "create", "dave", "--password", PASSWORD)
    assert bare.exit_code == 0 and "users grant dave" in bare.output, bare.output
    assert accounts_of(db, "dave") == {}
    listed = cli("--database", url, "users", "list").output
    assert "carol  created" in listed and f"stores: {a.id} (admin)" in listed, listed
    assert "stores: none" in listed
    bad = [
        (["users", "grant", "ghost", "--store", a.id, "--role", "viewer"], "ghost"),
        (["users", "grant", "nobody", "--store", "No such shop", "--role", "viewer"], "No such"),
        (["users", "grant", "nobody", "--store", a.id, "--role", "emperor"], "emperor"),
        (["users", "grant", "nobody", "--role", "viewer"], "--store"),
        (["users", "revoke", "nobody", "--store", a.id], "no access"),
        (["users", "revoke", "ghost", "--store", a.id], "ghost"),
        (["users", "sessions", "ghost"], "ghost"),
        (["users", "revoke-sessions", "ghost"], "ghost"),
        (["users", "create", "erin", "--password", PASSWORD, "--store", "nope"], "nope"),
    ]
    before = snapshot(db)
    for args, hint in bad:
        r = cli("--database", url, *args)
        text = r.output.strip()
        assert r.exit_code != 0, (args, text)
        assert "Traceback" not in text and hint in text, (args, text)
        errors = [ln for ln in text.splitlines() if ln.startswith("Error")]
        assert len(errors) == 1 and hint in errors[0], (args, text)
    assert snapshot(db) == before


def test_migration_makes_existing_accounts_owners(db: Database) -> None:
    """What 1130_tenancy does to an existing install: every account owns every store."""
    from importlib import resources

    a = make_store(db, "Old A")
    b = make_store(db, "Old B")
    add_user(db, "old", owner=False)
    sql = (
        resources.files("shopevents.storage")
        / "migrations"
        / ("postgres" if db_dialect(db) == "postgres" else "sqlite")
        / "1130_tenancy.sql"
    ).read_text()
    insert = next(s for s in sql.split(";") if "INSERT INTO store_grants" in s)
    conn = db.connect()
    try:
        with conn.transaction():
            conn.execute("DELETE FROM store_grants")
            conn.execute(insert.strip())
    finally:
        conn.close()
    assert accounts_of(db, "old") == {a.id: "owner", b.id: "owner"}


# --- helpers ------------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def db_dialect(db: Database) -> str:
    return str(db.dialect)


def _read(db: Database, fn: Any) -> Any:
    conn = db.connect()
    try:
        return fn(conn)
    finally:
        conn.close()


def user_id(db: Database, username: str) -> int:
    uid = _read(db, lambda c: accounts.user_id_of(c, username))
    assert uid is not None
    return int(uid)


def role(db: Database, username: str, store_id: str) -> str | None:
    uid = user_id(db, username)
    return _read(db, lambda c: accounts.role_of(c, uid, store_id))  # type: ignore[no-any-return]


def accounts_of(db: Database, username: str) -> dict[str, str]:
    uid = user_id(db, username)
    return _read(db, lambda c: accounts.roles_of(c, uid))  # type: ignore[no-any-return]


def sessions_of(db: Database, username: str) -> list[dict[str, Any]]:
    uid = user_id(db, username)
    return _read(db, lambda c: accounts.list_sessions(c, uid, 0))  # type: ignore[no-any-return]


def test_the_first_account_owns_every_store(db: Database) -> None:
    """The README's demo: `users create admin` on a server with a store and no account yet
    makes an account that sees the store (owner); a later one sees nothing until granted."""
    a = make_store(db, "First shop")
    b = make_store(db, "Second shop")
    first = cli("--database", db.url, "users", "create", "founder", "--password", PASSWORD)
    assert first.exit_code == 0, first.output
    assert "owner of every store" in first.output
    assert accounts_of(db, "founder") == {a.id: "owner", b.id: "owner"}
    later = cli("--database", db.url, "users", "create", "later", "--password", PASSWORD)
    assert later.exit_code == 0 and accounts_of(db, "later") == {}
    assert "users grant later" in later.output
