"""The database freezes, breaks at COMMIT or is locked by another process: the server answers
`503` with `Retry-After` within its write deadline, `/healthz` stays instant, nothing answered
`storage_unavailable` is stored, a batch whose COMMIT reached the database before the
connection broke is answered `200`, and everything works again once the database does.

PostgreSQL is reached through `PgLink`, a TCP relay on loopback that can stop forwarding
(the database as seen from a frozen host or across a partition) or cut the connection right
after PostgreSQL answered a COMMIT (a crash at the moment of commit)."""

from __future__ import annotations

import contextlib
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from shopevents.config import Settings, StorageSettings, WorkerSettings
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    PG_URL,
    LiveServer,
    StoreInfo,
    create_pg_database,
    drop_pg_database,
    ingest_path,
    make_store,
    pg_url_for,
)

# Each takes seconds: it waits out write deadlines, the database's startup wait or a full disk.
pytestmark = pytest.mark.slow

WRITE_TIMEOUT = 1.0
COMMIT_TIMEOUT = 2.0
# How much later than its deadline an answer may come: the other tests run meanwhile on the
# same cores. An answer past it is one the server did not give on its own deadline.
SLACK = 5.0
# How long the test waits for something the server does within a deadline.
PATIENCE = 30.0


class PgLink:
    """A TCP relay to PostgreSQL. `freeze()` stops forwarding both ways (connections stay
    open, nothing moves), `thaw()` resumes; `cut_after_commit()` closes the next connection
    that carries a COMMIT once PostgreSQL has answered it, before the answer is relayed."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.moving = threading.Event()
        self.moving.set()
        self.cut_armed = threading.Event()
        self.cuts = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, db_url: str) -> str:
        name = db_url.rsplit("/", 1)[1]
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def freeze(self) -> None:
        self.moving.clear()

    def thaw(self) -> None:
        self.moving.set()

    def cut_after_commit(self) -> None:
        self.cut_armed.set()

    def close(self) -> None:
        self.stopped = True
        self.moving.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        commit_sent = False
        with client, server:
            while not self.stopped:
                ready, _, _ = select.select([client, server], [], [], 0.1)
                for sock in ready:
                    self.moving.wait()
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    if sock is client:
                        if self.cut_armed.is_set() and b"COMMIT" in data:
                            commit_sent = True
                        server.sendall(data)
                    elif commit_sent:
                        # PostgreSQL answered the COMMIT: the client never hears of it.
                        self.cut_armed.clear()
                        self.cuts += 1
                        return
                    else:
                        client.sendall(data)


@pytest.fixture
def pg_db_url() -> Iterator[str]:
    """A fresh PostgreSQL database (this module's tests are PostgreSQL-only where they use it)."""
    if "postgres" not in BACKENDS:
        pytest.skip("PostgreSQL is not a test mode")
    name = create_pg_database()
    try:
        yield pg_url_for(name)
    finally:
        drop_pg_database(name)


def fault_settings(url: str, write_timeout: float = WRITE_TIMEOUT) -> Settings:
    return Settings(
        database_url=url,
        worker=WorkerSettings(enabled=False),
        storage=StorageSettings(
            write_timeout_seconds=write_timeout,
            commit_timeout_seconds=max(COMMIT_TIMEOUT, write_timeout),
            read_timeout_seconds=2.0,
        ),
    )


def visit(request_id: str) -> bytes:
    return msgspec.json.encode(
        {
            "requestId": request_id,
            "events": [{"type": "page-visit"}],
            "entityInfo": {"primaryKey": f"{request_id}@example.com"},
        }
    )


def post(client: httpx.Client, store: StoreInfo, body: bytes) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = client.post(
        ingest_path(store.id), content=body, headers={"Content-Type": "text/plain"}
    )
    return answer, time.monotonic() - started


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {PATIENCE:g} s"
        time.sleep(0.01)


def stored_keys(db: Database) -> set[str]:
    conn = db.connect()
    try:
        return {r[0] for r in conn.all("SELECT request_key FROM requests") if r[0]}
    finally:
        conn.close()


@contextlib.contextmanager
def linked(pg_db_url: str) -> Iterator[tuple[PgLink, Database, Database, StoreInfo]]:
    """A migrated database with a store: `(link, db, direct, store)`, where `db` reaches it
    through the `PgLink` (for the server) and `direct` does not (to read the rows back)."""
    direct = Database(pg_db_url)
    direct.migrate()
    store = make_store(direct)
    link = PgLink(("127.0.0.1", int(PG_URL.rsplit(":", 1)[1].split("/")[0])))
    db = Database(link.url(pg_db_url))
    try:
        yield link, db, direct, store
    finally:
        link.close()
        db.close()
        direct.close()


@contextlib.contextmanager
def served(settings: Settings, db: Database) -> Iterator[tuple[LiveServer, httpx.Client]]:
    from shopevents.clock import SystemClock

    live = LiveServer(settings, db, SystemClock()).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            yield live, client
    finally:
        live.stop()


def test_frozen_postgres_answers_503_in_time_and_loses_nothing(pg_db_url: str) -> None:
    with (
        linked(pg_db_url) as (link, db, direct, store),
        served(fault_settings(db.url), db) as (live, client),
    ):
        ok, _ = post(client, store, visit("before"))
        assert ok.status_code == 200
        committer = live.ctx.committer
        link.freeze()
        answers: dict[str, tuple[httpx.Response, float]] = {}

        def send(key: str) -> None:
            answers[key] = post(client_for(live), store, visit(key))

        # The first is taken into a transaction the database never finishes; the second
        # waits behind it and is withdrawn.
        taken = committer.writes
        first = threading.Thread(target=send, args=("in-flight",))
        first.start()
        wait_until(lambda: committer.writes > taken, "the first write to be in a transaction")
        second = threading.Thread(target=send, args=("queued",))
        second.start()
        wait_until(
            lambda: committer._pending or "queued" in answers, "the second write to be queued"
        )
        # The database stays frozen until the test thaws it: whatever waited on it would not
        # answer at all.
        health, took = timed_get(live, "/healthz")
        assert health.status_code == 200 and took < SLACK
        ready, ready_took = timed_get(live, "/readyz")
        assert ready.status_code == 503 and ready_took < 2 * WRITE_TIMEOUT + SLACK
        first.join(PATIENCE)
        second.join(PATIENCE)
        for key in ("in-flight", "queued"):
            answer, waited = answers[key]
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            assert waited < (COMMIT_TIMEOUT if key == "in-flight" else WRITE_TIMEOUT) + SLACK
        assert answers["in-flight"][0].json()["code"] == "outcome_unknown"
        assert answers["queued"][0].json()["code"] == "storage_unavailable"
        link.thaw()
        deadline = time.monotonic() + PATIENCE
        while True:
            again, _ = post(client, store, visit("after"))
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert again.status_code == 200
        assert live.ctx.committer.in_doubt == {"committed": 1, "rolled_back": 0}
        assert "queued" not in stored_keys(direct)
        assert {"before", "in-flight", "after"} <= stored_keys(direct)
        # The in-doubt request retried with its requestId gets its stored answer.
        retried, _ = post(client, store, visit("in-flight"))
        assert retried.status_code == 200
        assert timed_get(live, "/readyz")[0].status_code == 200


def test_connection_lost_after_commit_is_answered_from_the_database(pg_db_url: str) -> None:
    with (
        linked(pg_db_url) as (link, db, direct, store),
        served(fault_settings(db.url), db) as (_live, client),
    ):
        assert post(client, store, visit("warm"))[0].status_code == 200
        link.cut_after_commit()
        answer, _ = post(client, store, visit("at-commit"))
        assert link.cuts == 1
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][0]["status"] == "accepted"
        assert "at-commit" in stored_keys(direct)
        assert post(client, store, visit("next"))[0].status_code == 200


# The SQLite writer runs on the event loop: while a write waits for the lock, the loop must
# go on answering. The write waits this long, in which the other requests must be answered.
LOCKED_WRITE_TIMEOUT = 3.0


def test_sqlite_locked_by_another_process_keeps_the_loop_free(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    db = Database(url)
    db.migrate()
    store = make_store(db)
    with served(fault_settings(url, LOCKED_WRITE_TIMEOUT), db) as (live, client):
        assert post(client, store, visit("before"))[0].status_code == 200
        holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            answers: dict[str, tuple[httpx.Response, float]] = {}
            sender = threading.Thread(
                target=lambda: answers.update(
                    locked=post(client_for(live), store, visit("while-locked"))
                )
            )
            sender.start()
            wait_until(
                lambda: live.ctx.committer._pending or "locked" in answers,
                "the write to wait for the lock",
            )
            for path in ("/healthz", "/login"):
                answer, _ = timed_get(live, path)
                assert answer.status_code == 200, path
                # answered while the write still waits for the lock, not once it gave up
                assert "locked" not in answers, path
            sender.join(PATIENCE)
            answer, waited = answers["locked"]
            assert answer.status_code == 503
            assert answer.json()["code"] == "storage_unavailable"
            assert LOCKED_WRITE_TIMEOUT - 0.3 < waited < LOCKED_WRITE_TIMEOUT + SLACK
            # Reads still work (WAL), but a write would not: not ready.
            assert timed_get(live, "/readyz")[0].status_code == 503
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert timed_get(live, "/readyz")[0].status_code == 200
        assert post(client, store, visit("after"))[0].status_code == 200
    keys = stored_keys(db)
    db.close()
    assert "while-locked" not in keys
    assert {"before", "after"} <= keys


def test_serve_waits_for_the_database_then_says_what_is_wrong(tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "shopevents", "serve", "--port", "1"],
        env={
            "PATH": "/usr/bin:/bin",
            "SHOPEVENTS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing",
            "SHOPEVENTS_STORAGE_STARTUP_WAIT_SECONDS": "1.5",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert "waiting up to 1.5 s for the database" in run.stderr
    assert "is not answering" in run.stderr and "SHOPEVENTS_DATABASE_URL" in run.stderr


def client_for(live: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=live.url, timeout=30)


def timed_get(live: LiveServer, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    with client_for(live) as client:
        answer = client.get(path)
    return answer, time.monotonic() - started


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 16 MiB filesystem of its own (tmpfs), to fill up."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_sqlite_full_disk_is_not_ready_until_a_write_succeeds(small_disk: Path) -> None:
    """A full disk: writes get `503 storage_unavailable` (nothing stored), `/readyz` says so
    although reads work, and both recover once there is room again."""
    url = f"sqlite:///{small_disk / 'full.db'}"
    db = Database(url)
    db.migrate()
    store = make_store(db)
    filler = small_disk / "filler"
    settings = fault_settings(url)
    settings = msgspec.structs.replace(
        settings, storage=msgspec.structs.replace(settings.storage, sqlite_min_free_mb=1)
    )
    with served(settings, db) as (live, client):
        assert post(client, store, visit("before"))[0].status_code == 200
        assert timed_get(live, "/readyz")[0].status_code == 200
        # the file's close flushes what is buffered, which fails too: suppress around both
        with contextlib.suppress(OSError), filler.open("wb", buffering=0) as fh:
            while True:  # every byte left
                fh.write(b"\0" * 65536)
        answers = [post(client, store, visit(f"full-{i}"))[0] for i in range(300)]
        assert {a.status_code for a in answers} <= {200, 503}
        refused = [a for a in answers if a.status_code == 503]
        assert refused
        assert {a.json()["code"] for a in refused} == {"storage_unavailable"}
        assert timed_get(live, "/readyz")[0].status_code == 503
        assert timed_get(live, "/healthz")[0].status_code == 200
        filler.unlink()
        assert timed_get(live, "/readyz")[0].status_code == 200
        assert post(client, store, visit("after"))[0].status_code == 200
    keys = stored_keys(db)
    db.close()
    refused_keys = {f"full-{i}" for i, a in enumerate(answers) if a.status_code == 503}
    assert not refused_keys & keys
    assert {"before", "after"} <= keys
