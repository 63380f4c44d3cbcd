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

# The clients must send while the write lock is held (3.5 s): no other test runs meanwhile.
pytestmark = pytest.mark.exclusive


@pytest.fixture
def flaky(db_url: str, server: LiveServer) -> Iterator[threading.Event]:
    """Starts holding the write lock for 3.5 s when set."""
    if not db_url.startswith("sqlite:"):
        pytest.skip("the write lock is held on SQLite")
    path = Path(db_url.removeprefix("sqlite:///"))
    start = threading.Event()

    def hold() -> None:
        start.wait(30)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        time.sleep(3.5)
        conn.execute("ROLLBACK")
        conn.close()

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    yield start
    start.set()
    t.join(10)


@pytest.fixture
def settings() -> Settings:
    base = Settings()
    ingest = base.ingest.__class__(retry_after_seconds=1)
    return Settings(worker=base.worker.__class__(enabled=False), ingest=ingest)


def _busy(server: LiveServer) -> int:
    return int(server.ctx.metrics[("segment_requests", "503")])


def test_python_sdk_through_a_flaky_period(
    server: LiveServer, db: Database, seg: SegmentStore, flaky: threading.Event
) -> None:
    errors: list[object] = []
    client = SegmentClient(
        seg.write_key, host=server.url, on_error=lambda e, b: errors.append(e), max_retries=10
    )
    flaky.set()
    time.sleep(0.2)
    session(client, "user-flaky", "dee@example.com", "ORD-FLAKY-1")
    client.flush()
    client.shutdown()
    assert errors == []
    assert _busy(server) >= 1  # it did answer 503
    check_session(db, seg.store.id, "dee@example.com", "ORD-FLAKY-1")
    assert count_requests(db, seg.store.id) == 8


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed")
def test_node_sdk_through_a_flaky_period(
    server: LiveServer, db: Database, seg: SegmentStore, flaky: threading.Event
) -> None:
    flaky.set()
    time.sleep(0.2)
    run_session(server.url, seg.write_key, "user-flaky-node", "eve@example.com", "ORD-FLAKY-2")
    assert _busy(server) >= 1
    check_session(db, seg.store.id, "eve@example.com", "ORD-FLAKY-2")
    assert count_requests(db, seg.store.id) == 8
