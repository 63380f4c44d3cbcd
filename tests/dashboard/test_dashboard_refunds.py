"""The purchase page's refund and cancel forms, on both backends: a refund by amount, a
return of a line, a refusal saying what is left, and a cancellation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from shopevents.clock import FixedClock
from shopevents.config import Settings
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo
from tests.dashboard.support import (
    add_user,
    login,
    owner_hooks,
    product,
    purchase_event,
    send,
    start_server,
)

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[httpx.Client]:
    srv: LiveServer = start_server(settings, db, FixedClock(NOW))
    add_user(db)
    try:
        with httpx.Client(base_url=srv.url, timeout=30, event_hooks=owner_hooks(db)) as client:
            yield client
    finally:
        srv.stop()


def test_refund_and_cancel_from_the_purchase_page(web: httpx.Client, store: StoreInfo) -> None:
    mug = product("mug", "Mug", "12.50")
    send(web, store.id, [purchase_event("o-1", [(mug, 2)])], email="ann@example.com")
    csrf = login(web)
    page = f"/stores/{store.id}/purchases/o-1"
    html = web.get(page).text
    assert 'action="/stores/' in html and "/adjust" in html and "data-confirm" in html
    r = web.post(
        page + "/adjust",
        data={"csrf": csrf, "action": "refund", "amount": "5", "refund_id": "r1"},
    )
    assert r.status_code == 303 and r.headers["location"] == page
    html = web.get(page).text
    assert "Refund r1 recorded" in html and "partially refunded" in html
    r = web.post(
        page + "/adjust",
        data={"csrf": csrf, "action": "refund", "product": "mug", "quantity": "3"},
    )
    assert "only 2 of 2 left" in web.get(r.headers["location"]).text
    r = web.post(page + "/adjust", data={"csrf": csrf, "action": "cancel", "reason": "no stock"})
    html = web.get(r.headers["location"]).text
    assert "Cancellation recorded" in html and "cancelled" in html
    assert (
        web.post(page + "/adjust", data={"csrf": "forged", "action": "cancel"}).status_code == 403
    )
