"""Helpers shared by the dashboard and report tests (no tests here): a live server with the
report routes, a logged-in HTTP client, and ingest payload builders."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx

from shopevents.clock import FixedClock, to_micros
from shopevents.config import Settings
from shopevents.dashboard import auth
from shopevents.storage.codec import dumpb
from shopevents.storage.database import Database
from tests.conftest import LiveServer, ingest_path

PASSWORD = "correct horse battery"
XSS = "<img src=x onerror=alert(1)>"


def start_server(settings: Settings, db: Database, clock: Any) -> LiveServer:
    """The real app on a real port, with the REST report routes mounted if the app does
    not mount them yet."""
    live = LiveServer(settings, db, clock)
    routes = live.app.router.routes
    if not any(getattr(r, "path", "") == "/api/reports/revenue" for r in routes):
        from shopevents.reports import routes as report_routes

        routes.extend(report_routes.routes(live.app.state.ctx))
    return live.start()


def add_user(db: Database, username: str = "admin", password: str = PASSWORD) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            auth.create_user(conn, username, password, to_micros(FixedClock().now()))
    finally:
        conn.close()


def csrf_of(html: str) -> str:
    mt = re.search(r'name="csrf" value="([^"]+)"', html)
    assert mt, "no CSRF field on the page"
    return mt.group(1)


def login(client: httpx.Client, username: str = "admin", password: str = PASSWORD) -> str:
    """Log in; give the CSRF token of the session."""
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
