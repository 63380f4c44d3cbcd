"""A flaky period: the server answers 503 (storage_unavailable, with Retry-After) while
another connection holds SQLite's write lock, then recovers. The real SDKs retry; nothing
they sent is lost and nothing is counted twice."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from segment.analytics import Client as SegmentClient

from shopevents.config import Settings
from shopevents.storage.database import Database
from tests.conftest import LiveServer
from tests.segment.conftest import SegmentStore, check_session, count_requests, session
from tests.segment.test_segment_node_sdk import run_session

# Each takes seconds: a write deadline, then the SDK's retries.
pytestmark = pytest.mark.slow

# How long the server may take to answer the SDK's first request (it waits for the lock
# until the write deadline, 1.5 s, then answers 503) while other tests run on the same cores.
PATIENCE = 60.0


class Flaky:
    """Another connection that holds SQLite's write lock from `start()` until the server has
    answered 503 to a client at least once, then lets go of it."""

    def __init__(self, path: Path, server: LiveServer) -> None:
        self.path = path
        self.server = server
        self.held = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def start(self) -> None:
        self.thread.start()
        assert self.held.wait(PATIENCE), "the write lock was not taken"

    def _hold(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            deadline = time.monotonic() + PATIENCE
            while _busy(self.server) < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.thread.join(PATIENCE + 10)


@pytest.fixture
def flaky(db_url: str, server: LiveServer) -> Iterator[Flaky]:
    """Holds the write lock from `start()` until the server has answered 503 once."""
    if not db_url.startswith("sqlite:"):
        pytest.skip("the write lock is held on SQLite")
    holder = Flaky(Path(db_url.removeprefix("sqlite:///")), server)
    yield holder
    holder.stop()


@pytest.fixture
def settings() -> Settings:
    base = Settings()
    ingest = base.ingest.__class__(retry_after_seconds=1)
    return Settings(worker=base.worker.__class__(enabled=False), ingest=ingest)


def _busy(server: LiveServer) -> int:
    return int(server.ctx.metrics[("segment_requests", "503")])


def test_python_sdk_through_a_flaky_period(
    server: LiveServer, db: Database, seg: SegmentStore, flaky: Flaky
) -> None:
    errors: list[object] = []
    client = SegmentClient(
        seg.write_key, host=server.url, on_error=lambda e, b: errors.append(e), max_retries=10
    )
    flaky.start()
    session(client, "user-flaky", "dee@example.com", "ORD-FLAKY-1")
    client.flush()
    client.shutdown()
    assert errors == []
    assert _busy(server) >= 1  # it did answer 503
    check_session(db, seg.store.id, "dee@example.com", "ORD-FLAKY-1")
    assert count_requests(db, seg.store.id) == 8


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed")
def test_node_sdk_through_a_flaky_period(
    server: LiveServer, db: Database, seg: SegmentStore, flaky: Flaky
) -> None:
    flaky.start()
    run_session(server.url, seg.write_key, "user-flaky-node", "eve@example.com", "ORD-FLAKY-2")
    assert _busy(server) >= 1
    check_session(db, seg.store.id, "eve@example.com", "ORD-FLAKY-2")
    assert count_requests(db, seg.store.id) == 8
