"""Helpers shared by the dashboard and report tests (no tests here): a live server with the
report routes, a logged-in HTTP client, and ingest payload builders."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx

from shopevents.clock import FixedClock, to_micros
from shopevents.config import Settings
from shopevents.dashboard import auth
from shopevents.jsoncodec import dumpb
from shopevents.storage import accounts, stores
from shopevents.storage.database import Database
from tests.conftest import LiveServer, ingest_path

PASSWORD = "correct horse battery"
XSS = "<img src=x onerror=alert(1)>"


def start_server(settings: Settings, db: Database, clock: Any) -> LiveServer:
    """The real app on a real port."""
    return LiveServer(settings, db, clock).start()


@contextlib.contextmanager
def dashboard_client(settings: Settings, db: Database, clock: Any) -> Iterator[httpx.Client]:
    """The real app on a real port and a client of it, with an account `admin` that owns
    every store (log in with `login`)."""
    srv = start_server(settings, db, clock)
    try:
        add_user(db)
        with httpx.Client(base_url=srv.url, timeout=30, event_hooks=owner_hooks(db)) as client:
            yield client
    finally:
        srv.stop()


_OWNERS: dict[str, Database] = {}
"""Accounts made by `add_user` with owner=True: `login` makes them owners of every store there
is by then (stores made after the user are the tests' own)."""


def add_user(
    db: Database, username: str = "admin", password: str = PASSWORD, *, owner: bool = True
) -> None:
    """A dashboard account; by default owner of every store (now and at each `login`)."""
    with db.reader() as conn, conn.transaction():
        auth.create_user(conn, username, password, to_micros(FixedClock().now()))
    if owner:
        _OWNERS[username] = db
        grant_all(db, username)
    else:
        _OWNERS.pop(username, None)


def grant_all(db: Database, username: str, role: str = "owner") -> None:
    """Give the account `role` on every store that exists (on a connection of `db`'s pool,
    which the app's reads share: this runs before each dashboard request)."""
    with db.reader() as conn, conn.transaction():
        uid = accounts.user_id_of(conn, username)
        assert uid is not None, username
        for rec in stores.list_stores(conn):
            accounts.grant(conn, uid, rec.id, role, to_micros(FixedClock().now()))


def owner_hooks(db: Database, username: str = "admin") -> dict[str, list[Any]]:
    """httpx event hooks that make `username` owner of every store there is before each
    dashboard request (the dashboard shows an account only the stores it has a grant on, and
    the tests make stores before and after logging in)."""

    def hook(request: httpx.Request) -> None:
        path = request.url.path
        if username in _OWNERS and (path == "/" or path.startswith(("/stores", "/login"))):
            grant_all(db, username)

    return {"request": [hook]}


def grant(db: Database, username: str, store_id: str, role: str) -> None:
    with db.reader() as conn, conn.transaction():
        uid = accounts.user_id_of(conn, username)
        assert uid is not None, username
        accounts.grant(conn, uid, store_id, role, to_micros(FixedClock().now()))


def csrf_of(html: str) -> str:
    mt = re.search(r'name="csrf" value="([^"]+)"', html)
    assert mt, "no CSRF field on the page"
    return mt.group(1)


def login(client: httpx.Client, username: str = "admin", password: str = PASSWORD) -> str:
    """Log in; give the CSRF token of the session."""
    if username in _OWNERS:
        grant_all(_OWNERS[username], username)
    page = client.get("/login")
    token = csrf_of(page.text)
    r = client.post(
        "/login",
        data={"csrf": token, "username": username, "password": password, "next": "/"},
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get(r.headers["location"], follow_redirects=True).text)


def product(pid: str, name: str, price: str) -> dict[str, Any]:
    return {
        "productId": pid,
        "name": name,
        "productDetailUrl": f"https://shop.example/p/{pid}",
        "unitPrice": Decimal(price),
    }


def purchase_event(
    purchase_id: str,
    lines: list[tuple[dict[str, Any], int]],
    *,
    date: str | None = None,
    source_type: str | None = None,
    source_name: str | None = None,
    payment: str | None = None,
    cart_id: str | None = None,
    currency: str | None = None,
) -> dict[str, Any]:
    items = [{**p, "quantity": q, "price": Decimal(p["unitPrice"]) * q} for p, q in lines]
    purchase: dict[str, Any] = {
        "purchaseId": purchase_id,
        "totalQuantity": sum(q for _, q in lines),
        "totalPrice": sum((i["price"] for i in items), Decimal(0)),
        "products": items,
    }
    for key, value in (
        ("purchaseDate", date),
        ("source_type", source_type),
        ("source_name", source_name),
        ("paymentMethod", payment),
        ("cartId", cart_id),
        ("currency", currency),
    ):
        if value is not None:
            purchase[key] = value
    return {"type": "purchase", "purchase": purchase}


def cart(cart_id: str, lines: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    items = [{**p, "quantity": q, "price": Decimal(p["unitPrice"]) * q} for p, q in lines]
    return {
        "cartId": cart_id,
        "totalQuantity": sum(q for _, q in lines),
        "totalPrice": sum((i["price"] for i in items), Decimal(0)),
        "products": items,
    }


def send(
    client: httpx.Client,
    store_id: str,
    events: list[Any],
    *,
    email: str | None = None,
    tracker: str | None = None,
    cart_obj: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"events": events}
    entity: dict[str, Any] = {}
    if email:
        entity["primaryKey"] = email
    if tracker:
        entity["trackerId"] = tracker
    if entity:
        body["entityInfo"] = entity
    if cart_obj is not None:
        body["cart"] = cart_obj
    r = client.post(
        ingest_path(store_id), content=dumpb(body), headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out
