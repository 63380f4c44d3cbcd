"""The raw ASGI fast path in front of the Starlette app (shopevents.asgi.FastPath), over real
HTTP: the ingest endpoint's POST and OPTIONS are answered without reaching Starlette, with the
same answers as before; every other request (another method on the ingest path, another path
shape, other routes) still goes through Starlette."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from shopevents.asgi import FastPath
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, ingest_path, make_store

PAGE = json.dumps({"events": [{"type": "page-visit"}]}).encode()
LIMIT = 512 * 1024
CORS = {
    "access-control-allow-origin": "https://shop.example",
    "access-control-expose-headers": "Retry-After",
    "vary": "Origin",
}


@pytest.fixture
def starlette_paths(server: LiveServer) -> Iterator[list[tuple[str, str]]]:
    """(method, path) of each HTTP request that reached the Starlette app behind the fast path."""
    front = server.app
    assert isinstance(front, FastPath)
    inner = front.app
    seen: list[tuple[str, str]] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append((scope["method"], scope["path"]))
        await inner(scope, receive, send)

    front.app = recording  # type: ignore[assignment]
    yield seen
    front.app = inner


def post(http: httpx.Client, store_id: str, body: Any = PAGE, **headers: str) -> httpx.Response:
    return http.post(
        ingest_path(store_id), content=body, headers={"Content-Type": "text/plain", **headers}
    )


def error_of(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    out: dict[str, Any] = r.json()
    # an ingest answer carries the visitor's trackerId, errors included
    assert set(out) - {"trackerId"} == {"status", "code", "message", "errors"}, out
    assert (out["status"], out["code"]) == (status, code), out
    return out


def cors_of(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k in CORS}


def raw_exchange(server: LiveServer, request: bytes, close_early: bool = False) -> bytes:
    """Send bytes on a fresh connection; the answer's bytes, read until the server closes
    (none if closed early)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request)
        if close_early:
            return b""
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_success_is_answered_by_the_fast_path(
    http: httpx.Client, db: Database, store: StoreInfo, starlette_paths: list[Any]
) -> None:
    r = post(http, store.id, Origin="https://shop.example")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert cors_of(r) == CORS
    body = r.json()
    assert set(body) >= {"trackerId", "banners", "webContents", "webModals", "results"}
    assert body["results"][0]["status"] == "accepted"
    assert starlette_paths == []
    with db.reader() as c:
        assert c.scalar("SELECT COUNT(*) FROM requests WHERE store_id = ?", (store.id,)) == 1


def test_gzip_body(http: httpx.Client, store: StoreInfo, starlette_paths: list[Any]) -> None:
    r = post(http, store.id, gzip.compress(PAGE), **{"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted"
    bomb = gzip.compress(b" " * (LIMIT + 10))
    error_of(post(http, store.id, bomb, **{"Content-Encoding": "gzip"}), 413, "payload_too_large")
    error_of(post(http, store.id, PAGE, **{"Content-Encoding": "br"}), 415, "unsupported_encoding")
    assert starlette_paths == []


def test_declared_length_over_the_limit_is_413_before_the_body_is_read(
    server: LiveServer, store: StoreInfo
) -> None:
    head = (
        f"POST {ingest_path(store.id)} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n"
    ).encode()
    # no body at all (and the connection left open): the answer cannot wait for it
    answer = raw_exchange(server, head)
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 413"), answer[:200]
    out = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert out["code"] == "payload_too_large" and str(LIMIT + 1) in out["message"]


def test_streamed_body_over_the_limit_is_413(
    http: httpx.Client, store: StoreInfo, starlette_paths: list[Any]
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b" " * (64 * 1024)

    r = http.post(ingest_path(store.id), content=chunks(), headers={"Origin": "https://a.test"})
    assert "content-length" not in r.request.headers
    out = error_of(r, 413, "payload_too_large")
    assert "over the limit" in out["message"]
    assert r.headers["access-control-allow-origin"] == "https://a.test"
    assert starlette_paths == []


def test_unknown_store_is_403(http: httpx.Client, starlette_paths: list[Any]) -> None:
    r = post(http, "no-such-store", Origin="https://shop.example")
    out = error_of(r, 403, "unknown_store")
    assert "'no-such-store'" in out["message"]
    assert cors_of(r) == CORS
    assert starlette_paths == []


def test_percent_encoded_store_id_is_decoded(http: httpx.Client, store: StoreInfo) -> None:
    encoded = "".join(f"%{ord(ch):02X}" for ch in store.id)
    assert post(http, encoded).status_code == 200
    out = error_of(post(http, "%C3%A9t%C3%A9"), 403, "unknown_store")
    assert "'été'" in out["message"]


def test_origin_checks(http: httpx.Client, db: Database, starlette_paths: list[Any]) -> None:
    store = make_store(db, "with domains", domains=["shop.example"])
    r = post(http, store.id, Origin="https://evil.example")
    error_of(r, 403, "origin_not_allowed")
    assert r.headers["access-control-allow-origin"] == "https://evil.example"
    assert post(http, store.id, Origin="https://www.shop.example").status_code == 200
    assert post(http, store.id).status_code == 200  # no Origin: not a browser
    assert starlette_paths == []


def test_preflight(http: httpx.Client, db: Database, starlette_paths: list[Any]) -> None:
    store = make_store(db, "with domains", domains=["shop.example"])
    ask = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    r = http.options(
        ingest_path(store.id), headers={**ask, "Access-Control-Request-Headers": "content-type"}
    )
    assert r.status_code == 204 and r.content == b""
    assert {k: v for k, v in r.headers.items() if k not in ("date", "server")} == {
        **CORS,
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": "content-type",
        "access-control-max-age": "86400",
    }
    r = http.options(ingest_path(store.id), headers=ask)
    assert r.headers["access-control-allow-headers"] == "Content-Type"
    r = http.options(ingest_path(store.id), headers={**ask, "Origin": "https://evil.example"})
    error_of(r, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in r.headers  # a refused preflight has no CORS
    error_of(http.options(ingest_path("nope"), headers=ask), 403, "unknown_store")
    assert starlette_paths == []


def test_other_methods_on_the_ingest_path_are_405_from_starlette(
    http: httpx.Client, store: StoreInfo, starlette_paths: list[Any]
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = http.request(method, ingest_path(store.id))
        error_of(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "POST"
    assert [m for m, _ in starlette_paths] == ["GET", "PUT", "DELETE"]


def test_other_path_shapes_fall_through_to_starlette(
    http: httpx.Client, store: StoreInfo, starlette_paths: list[Any]
) -> None:
    error_of(post(http, f"{store.id}/extra"), 404, "not_found")
    error_of(post(http, ""), 404, "not_found")
    r = post(http, f"{store.id}/")
    assert r.status_code == 307  # Starlette's trailing-slash redirect, as before
    assert r.headers["location"].endswith(ingest_path(store.id))
    assert [p for _, p in starlette_paths] == [
        ingest_path(f"{store.id}/extra"),
        ingest_path(""),
        ingest_path(f"{store.id}/"),
    ]


def test_other_routes_still_work_and_metrics_count_fast_path_answers(
    http: httpx.Client, store: StoreInfo, starlette_paths: list[Any]
) -> None:
    assert post(http, store.id).status_code == 200
    assert post(http, "nope").status_code == 403
    assert http.get("/healthz").json() == {"status": "ok"}
    r = http.get("/api/store", headers=store.auth)
    assert r.status_code == 200 and r.json()["id"] == store.id
    metrics = http.get("/metrics").text
    assert 'shopevents_ingest_requests_total{status="200"} 1' in metrics
    assert 'shopevents_ingest_requests_total{status="403"} 1' in metrics
    assert 'shopevents_ingest_events_total{outcome="accepted"} 1' in metrics
    assert ("GET", "/healthz") in starlette_paths and ("GET", "/metrics") in starlette_paths


def test_unexpected_error_is_logged_and_500(
    server: LiveServer,
    http: httpx.Client,
    store: StoreInfo,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(store_id: str, max_age: float = 2.0) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server.ctx, "get_store", broken)
    with caplog.at_level(logging.ERROR, logger="shopevents"):
        r = post(http, store.id, Origin="https://shop.example")
    out = error_of(r, 500, "internal_error")
    assert out["message"] == "A server fault; nothing a client sent causes it."
    assert "access-control-allow-origin" not in r.headers  # as the Starlette handler answers
    assert any(
        rec.message == "unhandled error" and rec.exc_info and "a bug" in str(rec.exc_info[1])
        for rec in caplog.records
    )
    monkeypatch.undo()
    assert post(http, store.id).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("leaving", ["close", "half-close"])
def test_client_gone_mid_body_is_not_an_error(
    server: LiveServer,
    http: httpx.Client,
    store: StoreInfo,
    caplog: pytest.LogCaptureFixture,
    leaving: str,
) -> None:
    """A client that closes its side before its whole body is in: nothing is answered (the
    request can never be whole), nothing is logged as an error, and the server lets go of the
    connection and its handler at once, not at the body timeout (30 s)."""
    request = (
        f"POST {ingest_path(store.id)} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(PAGE)}\r\n\r\n"
    ).encode() + PAGE[:10]
    state = server.server.server_state
    with caplog.at_level(logging.ERROR):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(request)
            if leaving == "half-close":
                s.shutdown(socket.SHUT_WR)
                assert s.recv(65536) == b""
        deadline = time.monotonic() + 10
        while state.tasks or state.connections:
            assert time.monotonic() < deadline, (state.tasks, state.connections)
            time.sleep(0.01)
        assert post(http, store.id).status_code == 200
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR] == []
    with server.ctx.db.reader() as c:
        assert c.scalar("SELECT COUNT(*) FROM requests WHERE store_id = ?", (store.id,)) == 1
