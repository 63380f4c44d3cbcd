"""Every answer on the ingest path carries a `trackerId`, errors included, over real HTTP on
both backends: Connectif's script stores `{"id": answer.trackerId}` after every answer, so an
error without one would turn the visitor into a new anonymous contact."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest

from shopevents.clock import SystemClock
from shopevents.config import IngestSettings, Settings, WorkerSettings
from shopevents.storage.database import Database
from tests.conftest import ROOT, LiveServer, StoreInfo, ingest_path, make_store
from tests.ingest.test_ingest_status import storage_down

ERROR_KEYS = {"status", "code", "message", "errors", "trackerId"}


def settings(**ingest: Any) -> Settings:
    return Settings(
        worker=WorkerSettings(enabled=False),
        ingest=msgspec.structs.replace(IngestSettings(), **ingest),
    )


class Live:
    def __init__(self, db: Database, live: LiveServer, store: StoreInfo) -> None:
        self.db, self.live, self.store = db, live, store
        self.http = httpx.Client(base_url=live.url, timeout=30)

    def post(self, body: bytes | dict[str, Any], store_id: str | None = None, **kw: Any) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "text/plain", **kw.pop("headers", {})}
        return self.http.post(
            ingest_path(store_id or self.store.id), content=content, headers=headers, **kw
        )

    def activity(self, email: str) -> list[str]:
        for _ in range(5):  # a pooled reader may find its connection gone after an outage
            r = self.http.get(f"/api/contacts/{email}/activity", headers=self.store.auth)
            if r.status_code != 503:
                break
        assert r.status_code == 200, r.text
        body = r.json()
        items = body["items"] if isinstance(body, dict) else body
        return [a["type"] for a in reversed(items)]


def start(db_url: str, **ingest: Any) -> Iterator[Live]:
    db = Database(db_url, busy_timeout_ms=200)
    db.migrate()
    store = make_store(db, domains=["shop.example"])
    live = LiveServer(settings(**ingest), db, SystemClock()).start()
    env = Live(db, live, store)
    try:
        yield env
    finally:
        env.http.close()
        live.stop()
        db.close()


@pytest.fixture
def live(db_url: str) -> Iterator[Live]:
    yield from start(db_url, max_body_bytes=4000, max_events=3)


def error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert set(body) >= ERROR_KEYS, body
    assert (body["status"], body["code"]) == (status, code), body
    return body


def named(tracker: str, **rest: Any) -> dict[str, Any]:
    """A request naming `tracker` the way Connectif's script does (entityInfo first)."""
    return {"entityInfo": {"trackerId": tracker}, **rest}


def test_every_error_answer_echoes_the_tracker_the_request_named(live: Live) -> None:
    first = live.post(
        {"events": [{"type": "page-visit"}], "entityInfo": {"primaryKey": "ana@example.com"}}
    )
    assert first.status_code == 200
    t = first.json()["trackerId"]
    page = [{"type": "page-visit"}]

    cases: list[tuple[httpx.Response, int, str]] = [
        (live.post(named(t, events=page), store_id="no-such-store"), 403, "unknown_store"),
        (
            live.post(named(t, events=page), headers={"Origin": "https://evil.example"}),
            403,
            "origin_not_allowed",
        ),
        (live.post(named(t, events=page, pad="x" * 20_000)), 413, "payload_too_large"),
        (live.post(named(t, events=page * 4)), 413, "too_many_events"),
        (
            live.post(named(t, events=page), headers={"Content-Encoding": "br"}),
            415,
            "unsupported_encoding",
        ),
        (
            live.post(b'{"entityInfo": {"trackerId": "' + t.encode() + b'"}, "events": [{} {}]}'),
            400,
            "invalid_json",
        ),
        (live.post(named(t, events={"type": "page-visit"})), 400, "invalid_envelope"),
        (
            live.post(
                gzip.compress(json.dumps(named(t, events=page, pad="x" * 50_000)).encode()),
                headers={"Content-Encoding": "gzip"},
            ),
            413,
            "payload_too_large",
        ),
    ]
    for r, status, code in cases:
        assert error(r, status, code)["trackerId"] == t, (code, r.text)
    # an origin refused still gets CORS headers, so the page's script can read the answer
    assert cases[1][0].headers["access-control-allow-origin"] == "https://evil.example"

    with storage_down(live.db):
        r = live.post(named(t, events=[{"type": "search", "searchText": "lost"}]))
    assert error(r, 503, "storage_unavailable")["trackerId"] == t
    assert "retry-after" in r.headers

    # the script stored the echoed tracker: the next page is still Ana's
    again = live.post(named(t, events=[{"type": "search", "searchText": "lamp"}]))
    assert again.status_code == 200 and again.json()["trackerId"] == t
    assert live.activity("ana@example.com") == ["entity-created", "web-page-visited", "search"]


def test_tracker_from_query_or_cookie_else_a_fresh_one(live: Live) -> None:
    broken = b"{not json"
    r = live.post(broken, params={"__cn_tracker": "from-the-link"})
    assert error(r, 400, "invalid_json")["trackerId"] == "from-the-link"
    cookie = quote(json.dumps({"id": "from-a-cookie"}))
    r = live.post(broken, headers={"Cookie": f"other=1; cn_tracker={cookie}"})
    assert error(r, 400, "invalid_json")["trackerId"] == "from-a-cookie"
    r = live.post(broken, headers={"Cookie": "__cn_tracker=plain-cookie"})
    assert error(r, 400, "invalid_json")["trackerId"] == "plain-cookie"
    # a tracker named in the body wins; a body that names none gets a fresh one each time
    r = live.post(b'{"entityInfo": {"trackerId": "in-body"}, oops', params={"__cn_tracker": "q"})
    assert error(r, 400, "invalid_json")["trackerId"] == "in-body"
    minted = [error(live.post(broken), 400, "invalid_json")["trackerId"] for _ in range(2)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", m) for m in minted) and minted[0] != minted[1]
    # a minted tracker is a usable one: the visitor's next request keeps it
    ok = live.post(named(minted[0], events=[{"type": "page-visit"}]))
    assert ok.status_code == 200 and ok.json()["trackerId"] == minted[0]
    # escapes are read, control characters dropped, the length capped
    r = live.post(b'{"entityInfo": {"trackerId": "a\\u0041\\n' + b"b" * 100 + b'"}, x')
    assert error(r, 400, "invalid_json")["trackerId"] == "aA" + "b" * 62


def test_a_rate_limited_answer_carries_the_tracker(db_url: str) -> None:
    for live in start(db_url, rate_limit_per_client=1, rate_limit_exempt_loopback=False):
        t = live.post({"events": [{"type": "page-visit"}]}).json()["trackerId"]
        answers = [live.post(named(t, events=[{"type": "page-visit"}])) for _ in range(4)]
        limited = [r for r in answers if r.status_code == 429]
        assert limited, [r.status_code for r in answers]
        for r in limited:
            assert error(r, 429, "rate_limited")["trackerId"] == t
            assert r.headers["retry-after"]
        # docs/http-api.md shows this answer as it is, but for the tracker
        text = (ROOT / "docs" / "http-api.md").read_text()
        section = text.split("#### Every answer carries a `trackerId`", 1)[1]
        shown = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
        assert {**limited[0].json(), "trackerId": shown["trackerId"]} == shown
