"""The dashboard: write keys on the store's settings page, and each Segment message's
verdict and mapping in the integration debugger and the quarantine."""

from __future__ import annotations

import re

import httpx

from shopevents.storage.database import Database
from tests.conftest import LiveServer
from tests.dashboard.support import add_user, login


def test_write_keys_and_verdicts_in_the_dashboard(server: LiveServer, db: Database) -> None:
    from tests.conftest import make_store

    store = make_store(db)
    add_user(db)
    with httpx.Client(base_url=server.url, timeout=30) as web:
        csrf = login(web)
        base = f"/stores/{store.id}"
        created = web.post(base + "/write-keys", data={"csrf": csrf, "name": "web"})
        assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
        key = re.search(r'id="new-write-key">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
        batch = {
            "writeKey": key,
            "batch": [
                {"type": "track", "event": "Product Viewed", "anonymousId": "a", "messageId": "m1",
                 "properties": {"product_id": "P1", "name": "Lamp", "price": 5, "url": "https://s.example/p"}},
                {"type": "track", "event": "Order Completed", "anonymousId": "a", "messageId": "m2",
                 "properties": {"total": 5, "products": []}},
            ],
        }  # fmt: skip
        assert web.post("/v1/batch", json=batch).json() == {"success": True}
        settings = web.get(base + "/settings").text
        assert "Segment write keys" in settings and key not in settings
        debugger = web.get(base + "/debugger").text
        assert "segment" in debugger
        quarantine = web.get(base + "/quarantine").text
        assert "missing_field" in quarantine
        kid = re.search(r"/write-keys/(wk_[0-9a-f]+)/revoke", settings).group(1)  # type: ignore[union-attr]
        assert web.post(base + f"/write-keys/{kid}/revoke", data={"csrf": csrf}).status_code == 303
        assert "revoked" in web.get(base + "/settings").text
