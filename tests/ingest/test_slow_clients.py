"""Slow, idle and flooding clients against a real server over real sockets: header, body and
keep-alive timeouts, the connection cap, the rate limiter's order, `Connection: close` on an
early 413."""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopevents.clock import SystemClock
from shopevents.config import (
    HttpSettings,
    IngestSettings,
    Settings,
    StorageSettings,
    WorkerSettings,
)
from shopevents.storage.database import Database
from tests.conftest import LiveServer, StoreInfo, example, ingest_path, make_store

TIMEOUT = 0.5
# How much later than its timeout a connection may be closed: the other tests run meanwhile on
# the same cores. A connection still open past it is one the server did not close on its own.
SLACK = 5.0
# How long a test waits for something the server does without a deadline of its own.
PATIENCE = 30.0


def settings(storage: StorageSettings | None = None, **http: float) -> Settings:
    values = {
        "header_timeout_seconds": TIMEOUT,
        "body_timeout_seconds": TIMEOUT,
        "keep_alive_timeout_seconds": TIMEOUT,
        **http,
    }
    return Settings(
        worker=WorkerSettings(enabled=False),
        http=HttpSettings(**values),  # type: ignore[arg-type]
        ingest=IngestSettings(rate_limit_per_client=5, rate_limit_per_store=20),
        storage=storage or StorageSettings(),
    )


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {PATIENCE:g} s"
        time.sleep(0.01)


def guard(server: LiveServer) -> Any:
    """The server's connection guard (made with its first connection): which connections are
    only waiting, how many were evicted to make room."""
    state = server.server.server_state
    wait_until(lambda: hasattr(state, "shopevents_guard"), "the server's first connection")
    return state.shopevents_guard


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'slow.db'}")
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def store(sqlite_db: Database) -> StoreInfo:
    return make_store(sqlite_db)


@pytest.fixture
def live(sqlite_db: Database) -> Iterator[LiveServer]:
    server = LiveServer(settings(), sqlite_db, SystemClock()).start()
    yield server
    server.stop()


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    start = time.monotonic()
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data, time.monotonic() - start


def post_ok(server: LiveServer, store: StoreInfo, timeout: float = 5) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=timeout) as c:
        return c.post(
            ingest_path(store.id),
            content=example("seed-purchase.json"),
            headers={"Content-Type": "text/plain"},
        )


def head(store: StoreInfo, length: int) -> bytes:
    return (
        f"POST {ingest_path(store.id)} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_head_sent_byte_by_byte_is_cut_at_the_timeout_while_others_are_served(
    live: LiveServer, store: StoreInfo
) -> None:
    sock = connect(live)
    start = time.monotonic()
    closed = False
    for byte in head(store, 2):
        try:
            sock.send(bytes([byte]))
        except OSError:
            closed = True
            break
        sock.settimeout(0.15)
        try:
            if sock.recv(65536) is not None:
                closed = True  # an answer or the close: the server is done with it
                break
        except TimeoutError:
            pass
        except OSError:  # reset: a byte sent after the server closed it
            closed = True
            break
        if time.monotonic() - start > TIMEOUT + SLACK:
            break
    elapsed = time.monotonic() - start
    assert closed, "the slow head was still being read after the timeout"
    assert TIMEOUT * 0.8 <= elapsed <= TIMEOUT + SLACK
    assert post_ok(live, store).status_code == 200
    sock.close()


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    live: LiveServer,
) -> None:
    sock = connect(live)
    data, elapsed = read_until_closed(sock, TIMEOUT + SLACK + 1)
    assert data == b""
    assert elapsed <= TIMEOUT + SLACK
    sock.close()


def test_a_stalled_body_gets_408_and_the_connection_closes(
    live: LiveServer, store: StoreInfo
) -> None:
    sock = connect(live)
    sock.sendall(head(store, 100) + b'{"events": [')
    data, elapsed = read_until_closed(sock, TIMEOUT + SLACK + 1)
    assert elapsed <= TIMEOUT + SLACK
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in data.lower()
    answer = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert answer["code"] == "request_timeout"
    assert len(answer["trackerId"]) == 24  # an ingest answer always carries a tracker
    sock.close()
    # the tracker the request named (here in the query) is the one the answer carries
    sock = connect(live)
    named = head(store, 100).replace(
        b" HTTP/1.1", b"?__cn_tracker=6b15c2890000000000000abc HTTP/1.1"
    )
    sock.sendall(named + b'{"events": [')
    data, _ = read_until_closed(sock, TIMEOUT + SLACK + 1)
    sock.close()
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["trackerId"] == "6b15c2890000000000000abc"
    assert post_ok(live, store).status_code == 200


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(
    live: LiveServer,
) -> None:
    sock = connect(live)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    first = b""
    while b"\r\n\r\n" not in first:
        first += sock.recv(65536)
    head, _, body = first.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 ")
    assert b"connection: close" not in first.lower()
    rest, elapsed = read_until_closed(sock, TIMEOUT + SLACK + 1)
    assert rest == b""
    assert elapsed <= TIMEOUT + SLACK
    sock.close()


def test_idle_connections_past_the_cap_make_room_for_a_real_request(
    sqlite_db: Database, store: StoreInfo
) -> None:
    cap = 20
    server = LiveServer(
        settings(max_connections=cap, header_timeout_seconds=30, keep_alive_timeout_seconds=30),
        sqlite_db,
        SystemClock(),
    ).start()
    idle: list[socket.socket] = []
    try:
        for _ in range(cap * 2):
            idle.append(connect(server))
        # every one taken in: past the cap, each made room by closing the oldest idle one
        evictions = guard(server)
        wait_until(lambda: evictions.evicted >= cap, "the connections past the cap")
        assert post_ok(server, store).status_code == 200
        # the oldest idle ones were closed to make room; the newest are still open
        closed: set[socket.socket] = set()
        deadline = time.monotonic() + PATIENCE
        while len(closed) < cap and time.monotonic() < deadline:
            ready, _, _ = select.select([s for s in idle if s not in closed], [], [], 0.1)
            for s in ready:
                try:
                    if s.recv(1) == b"":
                        closed.add(s)
                except ConnectionResetError:
                    closed.add(s)
        assert len(closed) >= cap
        assert len(server.server.server_state.connections) <= cap
    finally:
        for s in idle:
            s.close()
        server.stop()


def test_when_every_connection_is_being_answered_a_newcomer_gets_503(
    sqlite_db: Database, store: StoreInfo, tmp_path: Path
) -> None:
    # a write waits for SQLite's lock for as long as the test holds it
    waits = StorageSettings(write_timeout_seconds=PATIENCE, commit_timeout_seconds=PATIENCE)
    server = LiveServer(
        settings(storage=waits, max_connections=2), sqlite_db, SystemClock()
    ).start()
    holder = sqlite3.connect(tmp_path / "slow.db", isolation_level=None)
    try:
        assert post_ok(server, store).status_code == 200
        holder.execute("BEGIN IMMEDIATE")  # writes now wait: their requests stay in hand
        connections = server.server.server_state.connections
        waiting = guard(server).waiting
        with ThreadPoolExecutor(2) as pool:
            busy = [pool.submit(post_ok, server, store, PATIENCE) for _ in range(2)]
            wait_until(
                lambda: len(connections) == 2 and not waiting,
                "both connections to be answering a request",
            )
            sock = connect(server)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data, _ = read_until_closed(sock, PATIENCE)
            sock.close()
            holder.execute("ROLLBACK")
            assert all(f.result().status_code in (200, 503) for f in busy)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 5" in head.lower() and b"connection: close" in head.lower()
        assert json.loads(body)["code"] == "too_many_connections"
        assert "trackerId" not in json.loads(body)  # not the ingest path
        assert post_ok(server, store).status_code == 200  # room again
    finally:
        holder.close()
        server.stop()


def test_early_413_says_connection_close(live: LiveServer, store: StoreInfo) -> None:
    with httpx.Client(base_url=live.url, timeout=5) as c:
        r = c.post(ingest_path(store.id), content=b"x" * (600 * 1024))
    assert r.status_code == 413
    assert r.headers["connection"] == "close"


class MovedClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_flooding_client_never_exhausts_a_polite_clients_share(
    live: LiveServer, store: StoreInfo
) -> None:
    clock = MovedClock()
    live.app.handler.__self__.limiter.clock = clock  # type: ignore[attr-defined]
    body = example("seed-purchase.json")

    def send(c: httpx.Client, client: str) -> int:
        r = c.post(
            ingest_path(store.id),
            content=body,
            headers={"Content-Type": "text/plain", "X-Forwarded-For": client},
        )
        return r.status_code

    with httpx.Client(base_url=live.url, timeout=5) as c:
        flood = [send(c, "203.0.113.7") for _ in range(60)]
        assert flood.count(200) == 10  # its own burst (2 x 5/s); the rest refused for it
        assert set(flood[10:]) == {429}
        polite = [send(c, "198.51.100.2") for _ in range(10)]
        assert polite == [200] * 10
        clock.t += 1.0  # one second: the flooding client earns 5 more
        again = [send(c, "203.0.113.7") for _ in range(8)]
        assert again.count(200) == 5
        # the store's own limit still holds: refilled to its burst of 40, 5 drawn since
        others = [send(c, f"192.0.2.{i}") for i in range(1, 41)]
        assert others.count(200) == 35 and others.count(429) == 5
