"""The one worker loop in its hosts: the `shopevents worker` process (until SIGTERM, or
`--once`), and a host of its own running `run_forever(ctx, stop)` in its own thread and event loop, as the
cluster processor does. `serve`'s host is covered by every test with a live server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shopevents.clock import FixedClock, SystemClock, monotonic, to_micros
from shopevents.config import Settings, WebhookSettings, WorkerSettings
from shopevents.context import AppContext
from shopevents.storage.database import Database
from shopevents.webhooks import endpoints
from shopevents.worker.loop import run_forever
from tests.shop import Shop, cart, line
from tests.webhooks_receiver import Receiver


@pytest.fixture
def shop(db: Database, clock: FixedClock) -> Iterator[Shop]:
    """A store whose carts were left 30 days ago: each is due for abandonment when sent."""
    clock.set(clock.now() - timedelta(days=30))
    s = Shop(db, clock, abandon_after=60)
    yield s
    s.close()


@pytest.fixture
def receiver(shop: Shop) -> Iterator[Receiver]:
    rec = Receiver().start()
    with shop.conn.transaction():
        _, rec.secret = endpoints.create_endpoint(
            shop.conn,
            shop.store.id,
            rec.url,
            ["cart.abandoned"],
            to_micros(shop.clock.now()),
            allow_private=True,
        )
    yield rec
    rec.stop()


def abandoned(shop: Shop) -> list[str]:
    return [
        row[0]
        for row in shop.conn.all(
            "SELECT cart_id FROM carts WHERE state = 'abandoned' ORDER BY cart_id"
        )
    ]


def delivery_statuses(shop: Shop) -> list[str]:
    return [row[0] for row in shop.conn.all("SELECT status FROM webhook_deliveries")]


def test_the_worker_process_loops_until_sigterm(
    db_url: str, shop: Shop, receiver: Receiver
) -> None:
    shop.send([], cart=cart("c1", line("A")))
    env = {
        **os.environ,
        "SHOPEVENTS_WORKER_INTERVAL_SECONDS": "0.05",
        "SHOPEVENTS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true",
    }
    cmd = [sys.executable, "-m", "shopevents", "--database", db_url, "worker"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        first = receiver.wait_for(1, timeout=60)
        # Still looping: a cart sent now is abandoned and told of too.
        shop.send([], cart=cart("c2", line("B")))
        both = receiver.wait_for(2, timeout=60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert first[0].valid and first[0].json["topic"] == "cart.abandoned"
    assert all(r.valid for r in both)
    assert sorted(r.json["data"]["cartId"] for r in both) == ["c1", "c2"]
    assert abandoned(shop) == ["c1", "c2"]


def test_worker_once_ends_after_the_deliveries_it_started(
    db_url: str, shop: Shop, receiver: Receiver
) -> None:
    shop.send([], cart=cart("c1", line("A")))
    env = {**os.environ, "SHOPEVENTS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true"}
    cmd = [sys.executable, "-m", "shopevents", "--database", db_url, "worker", "--once"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # No waiting: the attempt was made and recorded before the process ended.
    assert len(receiver.received) == 1 and receiver.received[0].valid
    assert delivery_statuses(shop) == ["delivered"]
    assert abandoned(shop) == ["c1"]


def test_a_host_runs_the_loop_in_its_own_thread(
    db: Database, shop: Shop, receiver: Receiver
) -> None:
    settings = Settings(
        worker=WorkerSettings(interval_seconds=0.05),
        webhooks=WebhookSettings(allow_private_addresses=True, timeout_seconds=5.0),
    )
    ctx = AppContext(settings, db, SystemClock())
    started = threading.Event()
    handle: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
    failures: list[BaseException] = []

    def host() -> None:
        async def main() -> None:
            stop = asyncio.Event()
            handle["loop"] = (asyncio.get_running_loop(), stop)
            started.set()
            await run_forever(ctx, stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # pragma: no cover - told by the assertion below
            failures.append(exc)

    shop.send([], cart=cart("c1", line("A")))
    thread = threading.Thread(target=host, name="test-host")
    thread.start()
    try:
        assert started.wait(30)
        received = receiver.wait_for(1, timeout=60)
        # Stopping now could cut the delivery short after it was sent: wait for its record.
        deadline = monotonic() + 60
        while delivery_statuses(shop) != ["delivered"] and monotonic() < deadline:
            time.sleep(0.01)
    finally:
        loop, stop = handle["loop"]
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
    assert not thread.is_alive() and not failures, failures
    assert received[0].valid and received[0].json["data"]["cartId"] == "c1"
    assert delivery_statuses(shop) == ["delivered"]
    assert ctx.metrics[("carts_abandoned", "")] == 1
    assert ctx.metrics[("webhook_attempts", "delivered")] == 1
    # The loop leaves the runtime it was given open: its host closes it.
    assert ctx.read_sync(lambda c: c.scalar("SELECT COUNT(*) FROM carts")) == 1
    ctx.close()
    assert abandoned(shop) == ["c1"]
