"""GET /api/reports/revenue|carts|products|data-quality over HTTP, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from shopevents.clock import FixedClock
from shopevents.config import Settings
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo
from tests.dashboard.support import product, purchase_event, send, start_server

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
MUG = product("mug", "Mug", "9.95")


@pytest.fixture
def live(settings: Settings, db: Database) -> Iterator[LiveServer]:
    srv = start_server(settings, db, FixedClock(NOW))
    yield srv
    srv.stop()


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


_EXACT = msgspec.json.Decoder(float_hook=Decimal)


def exact(r: httpx.Response) -> dict[str, Any]:
    out: dict[str, Any] = _EXACT.decode(r.content)
    return out


def test_reports_as_json_with_an_api_key(api: httpx.Client, store: StoreInfo) -> None:
    send(
        api,
        store.id,
        [
            purchase_event(
                "r1",
                [(MUG, 3)],
                date="2026-04-10T10:00:00Z",
                source_type="marketplace",
                payment="card",
            )
        ],
        email="a@example.com",
    )
    send(
        api,
        store.id,
        [purchase_event("r2", [(MUG, 1)], date="2026-04-11T10:00:00Z")],
        email="b@example.com",
    )
    send(api, store.id, [{"type": "page-visit"}, {"type": "bogus"}])

    assert api.get("/api/reports/revenue").status_code == 401
    r = api.get(
        "/api/reports/revenue",
        params={"from": "2026-04-01", "to": "2026-04-15", "groupBy": "source_type"},
        headers=store.auth,
    )
    assert r.status_code == 200, r.text
    rev = exact(r)
    assert rev["totals"]["orders"] == 2
    assert rev["totals"]["revenue"] == Decimal("39.8")
    assert rev["groupBy"] == "source_type" and rev["groups"] == ["marketplace", "unspecified"]
    assert len(rev["buckets"]) == 15 and rev["buckets"][9]["groups"]["marketplace"]["orders"] == 1
    default = exact(api.get("/api/reports/revenue", headers=store.auth))
    assert (default["from"], default["to"], default["interval"]) == (
        "2026-03-17",
        "2026-04-15",
        "day",
    )
    weekly = exact(api.get("/api/reports/revenue", params={"interval": "week"}, headers=store.auth))
    assert weekly["buckets"][0]["start"] == "2026-03-16"

    carts = api.get("/api/reports/carts", headers=store.auth)
    assert carts.status_code == 200 and set(exact(carts)["totals"]) >= {
        "created",
        "abandoned",
        "purchased",
        "recovered",
        "recoveryRate",
        "recoveredRevenue",
    }
    prods = exact(api.get("/api/reports/products", params={"limit": "5"}, headers=store.auth))
    assert prods["byRevenue"][0] == {
        "productId": "mug",
        "name": "Mug",
        "units": 4,
        "revenue": Decimal("39.8"),
        "orders": 2,
        "returnedUnits": 0,
        "returned": 0,
        "netUnits": 4,
        "netRevenue": Decimal("39.8"),
    }
    quality = exact(
        api.get(
            "/api/reports/data-quality",
            params={"from": "2026-04-15", "to": "2026-04-15", "interval": "hour"},
            headers=store.auth,
        )
    )
    assert quality["totals"]["accepted"] == 3 and quality["totals"]["rejected"] == 1
    assert len(quality["buckets"]) == 24


BAD = [
    ("revenue", {"from": "yesterday"}, "/from"),
    ("revenue", {"from": "2026-04-10", "to": "2026-04-01"}, "/from"),
    ("revenue", {"interval": "hour"}, "/interval"),
    ("revenue", {"groupBy": "colour"}, "/groupBy"),
    ("revenue", {"currency": "XXZ"}, "/currency"),
    ("products", {"limit": "0"}, "/limit"),
    ("data-quality", {"interval": "year"}, "/interval"),
    # days whose buckets or local midnights would fall outside what a date holds
    ("sources", {"to": "0001-01-01"}, "/to"),
    ("revenue", {"from": "1899-12-31", "to": "1900-01-05"}, "/from"),
    ("revenue", {"from": "9999-12-31", "to": "9999-12-31"}, "/to"),
    ("data-quality", {"from": "9998-12-31", "to": "9999-01-01"}, "/to"),
    ("carts", {"to": "9999-12-31", "interval": "month"}, "/to"),
]


def test_report_parameters_are_checked(api: httpx.Client, store: StoreInfo) -> None:
    for path, params, pointer in BAD:
        r = api.get(f"/api/reports/{path}", params=params, headers=store.auth)
        assert r.status_code == 422, (path, params, r.text)
        body = r.json()
        assert body["code"] == "validation_failed"
        assert body["errors"][0]["path"] == pointer
        assert body["validationErrors"][0]["path"] == pointer


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_the_first_and_last_days_a_report_covers(
    api: httpx.Client, store: StoreInfo, interval: str
) -> None:
    for params in ({"to": "1900-01-01"}, {"from": "9998-12-01", "to": "9998-12-31"}):
        for path in ("revenue", "sources", "carts", "data-quality", "products"):
            r = api.get(
                f"/api/reports/{path}", params={**params, "interval": interval}, headers=store.auth
            )
            assert r.status_code == 200, (path, params, r.text)
