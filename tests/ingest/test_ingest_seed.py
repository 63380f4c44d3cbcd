"""The seed article's purchase, end to end over HTTP, on both backends."""

from __future__ import annotations

import json

import httpx
import pytest

from shopevents.storage.database import Database
from tests.conftest import StoreInfo, example, ingest_path

pytestmark = pytest.mark.cluster


def revenue(db: Database, store_id: str) -> tuple[int, int]:
    with db.reader() as c:
        row = c.one(
            "SELECT COUNT(*), COALESCE(SUM(total_price), 0) FROM purchases WHERE store_id = ?",
            (store_id,),
        )
    return int(row[0]), int(row[1])


def test_seed_purchase_accepted_as_text_and_json(
    http: httpx.Client, store: StoreInfo, db: Database
) -> None:
    body = example("seed-purchase.json")
    r = http.post(ingest_path(store.id), content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["trackerId"]) == 24
    assert out["banners"] == [] and out["webContents"] == [] and out["webModals"] == {}
    assert [(x["index"], x["type"], x["status"]) for x in out["results"]] == [
        (0, "purchase", "accepted"),
        (1, "page-visit", "accepted"),
    ]
    assert out["entityInfo"]["status"] == "accepted"
    assert revenue(db, store.id) == (1, 51_880_000)

    again = http.post(
        ingest_path(store.id), content=body, headers={"Content-Type": "application/json"}
    )
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    assert revenue(db, store.id) == (1, 51_880_000)

    changed = json.loads(body)
    changed["events"][0]["purchase"]["totalPrice"] = 60.5
    conflict = http.post(ingest_path(store.id), json=changed)
    assert conflict.json()["results"][0]["status"] == "conflict"
    assert revenue(db, store.id) == (1, 51_880_000)
    with db.reader() as c:
        assert (
            c.scalar("SELECT COUNT(*) FROM purchase_conflicts WHERE store_id = ?", (store.id,)) == 1
        )


def test_seed_article_as_printed_gets_400_with_line_and_column(
    http: httpx.Client, store: StoreInfo
) -> None:
    r = http.post(ingest_path(store.id), content=example("seed-article-as-printed.json"))
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid_json"
    err = body["errors"][0]
    assert (err["line"], err["column"]) == (29, 1)
    assert 'missing at line 28, column 31, after "paymentMethod": "Credit Card"' in body["message"]
    assert "comma" in body["message"]
