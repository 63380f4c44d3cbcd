"""A 200 means durable (product.md §2): while clients send requests, the server process is
killed with SIGKILL; after a restart every event a client saw acknowledged is in storage, no
request is half-written, and the database opens cleanly. Both backends."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shopevents.storage.database import Database
from tests.conftest import free_port, ingest_path

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).with_name("shopevents")
CLIENTS = 6
# The server is killed once the clients have seen this many requests acknowledged (while they
# go on sending), however long that takes with other tests on the same cores.
ACKNOWLEDGED = 300
PATIENCE = 120.0


def cli(db_url: str, *args: str) -> str:
    out = subprocess.run(
        [str(BIN), "--database", db_url, *args], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


class Server:
    def __init__(self, db_url: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [str(BIN), "--database", db_url, "serve", "--port", str(port), "--no-worker"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + PATIENCE
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError("serve did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def fresh_url(db_url: str) -> Iterator[str]:
    cli(db_url, "migrate")
    yield db_url


def body_for(client: int, n: int) -> tuple[str, list[str], dict[str, Any]]:
    """A request with 1-3 distinct purchases and a page visit, tagged with a requestId."""
    request_id = f"c{client}-r{n}"
    pids = [f"{request_id}-p{k}" for k in range(1 + n % 3)]
    events: list[dict[str, Any]] = [
        {
            "type": "purchase",
            "purchase": {
                "purchaseId": pid,
                "totalQuantity": 1,
                "totalPrice": 9.99,
                "products": [
                    {
                        "productId": f"SKU-{n % 7}",
                        "name": "Thing",
                        "productDetailUrl": "https://shop.example/p",
                        "unitPrice": 9.99,
                        "quantity": 1,
                        "price": 9.99,
                    }
                ],
            },
        }
        for pid in pids
    ]
    events.append({"type": "page-visit"})
    envelope = {
        "requestId": request_id,
        "events": events,
        "entityInfo": {"primaryKey": f"client{client}@example.com"},
        "cart": {"cartId": f"cart-{client}", "totalQuantity": 0, "totalPrice": 0, "products": []},
    }
    return request_id, pids, envelope


def test_sigkill_loses_no_acknowledged_event(fresh_url: str) -> None:
    store_id = json.loads(cli(fresh_url, "stores", "create", "Crash shop", "--json"))["storeId"]
    port = free_port()
    server = Server(fresh_url, port)
    acked: dict[str, tuple[list[str], int]] = {}  # requestId -> (purchaseIds, events sent)
    sent: dict[str, int] = {}
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def client(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=PATIENCE) as c:
            n = 0
            while not stop.is_set():
                request_id, pids, envelope = body_for(i, n)
                n += 1
                with lock:
                    sent[request_id] = len(envelope["events"])
                try:
                    r = c.post(ingest_path(store_id), content=json.dumps(envelope))
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code == 200:
                    results = r.json()["results"]
                    assert [x["status"] for x in results] == ["accepted"] * len(envelope["events"])
                    with lock:
                        acked[request_id] = (pids, len(envelope["events"]))
                        if len(acked) >= ACKNOWLEDGED:
                            enough.set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + PATIENCE
        while not enough.wait(0.05) and time.monotonic() < deadline:
            assert any(t.is_alive() for t in threads), "every client stopped sending"
        server.kill()  # SIGKILL mid-stream: requests are in flight
        stop.set()
        for t in threads:
            t.join(timeout=PATIENCE)
    finally:
        stop.set()
        server.kill()
    assert len(acked) > 20, "the clients got too few answers to make the test meaningful"

    db = Database(fresh_url)
    if db.dialect == "sqlite":
        with sqlite3.connect(db.target) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    restarted = Server(fresh_url, free_port())
    try:
        with db.reader() as c:
            stored_pids = {
                r[0]
                for r in c.all("SELECT purchase_id FROM purchases WHERE store_id = ?", (store_id,))
            }
            per_request = dict(
                c.all(
                    "SELECT r.request_key, COUNT(e.id) FROM requests r LEFT JOIN events e ON e.request_id = r.id "
                    "WHERE r.store_id = ? GROUP BY r.request_key",
                    (store_id,),
                )
            )
        acked_pids = {pid for pids, _ in acked.values() for pid in pids}
        missing = acked_pids - stored_pids
        assert not missing, (
            f"{len(missing)} acknowledged purchases lost, e.g. {sorted(missing)[:5]}"
        )
        for request_id, (_, n_events) in acked.items():
            assert per_request.get(request_id) == n_events, request_id
        # nothing half-written: a request that reached storage has all its events
        for request_id, count in per_request.items():
            assert count == sent[request_id], request_id
        assert stored_pids <= {pid for rid in per_request for pid in body_for_pids(rid)}
        # and the restarted server carries on: a resent acknowledged request is a duplicate
        request_id = next(iter(acked))
        client_no, n = (int(x[1:]) for x in request_id.split("-"))
        _, _, envelope = body_for(client_no, n)
        envelope.pop("requestId")
        r = httpx.post(restarted.url + ingest_path(store_id), content=json.dumps(envelope))
        statuses = [x["status"] for x in r.json()["results"]]
        assert statuses[:-1] == ["duplicate"] * (len(statuses) - 1)
        print(
            f"acknowledged {len(acked)} requests ({len(acked_pids)} purchases) of {len(sent)} sent"
        )
    finally:
        restarted.kill()
        db.close()


def body_for_pids(request_id: str) -> list[str]:
    client_no, n = (int(x[1:]) for x in request_id.split("-"))
    return body_for(client_no, n)[1]


def test_sqlite_synchronous_setting_reaches_the_connection(tmp_path: Path) -> None:
    """`storage.sqlite_synchronous` is what the server's connections use (FULL: power-loss safe)."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    for value, expected in (("NORMAL", 1), ("FULL", 2)):
        conn = Database(url, synchronous=value).connect()
        try:
            assert conn.scalar("PRAGMA synchronous") == expected
            assert conn.scalar("PRAGMA journal_mode") == "wal"
        finally:
            conn.close()
    env = {**os.environ, "SHOPEVENTS_STORAGE_SQLITE_SYNCHRONOUS": "FULL"}
    out = subprocess.run(
        [str(BIN), "--database", url, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
