"""@segment/analytics-node (from npm, tests/segment/node_modules) against a live server."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from shopevents.storage.database import Database
from tests.conftest import LiveServer
from tests.segment.conftest import HERE, SegmentStore, check_session, ensure_node_modules

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is needed")


def run_session(url: str, write_key: str, user: str, email: str, order: str) -> None:
    ensure_node_modules()
    run = subprocess.run(
        ["node", str(HERE / "session.mjs"), url, write_key, user, email, order],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=HERE,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_segment_node_sdk(server: LiveServer, db: Database, seg: SegmentStore) -> None:
    run_session(server.url, seg.write_key, "user-node", "cal@example.com", "ORD-NODE-1")
    check_session(db, seg.store.id, "cal@example.com", "ORD-NODE-1")
