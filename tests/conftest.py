"""Shared fixtures: one parametrized database fixture runs storage and HTTP tests on SQLite and
on the local PostgreSQL; a live server runs the real app over real HTTP in a thread."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
import uvicorn

from shopevents.app import create_app
from shopevents.clock import FixedClock, SystemClock, to_micros
from shopevents.config import Settings
from shopevents.server import uvicorn_config
from shopevents.storage import stores
from shopevents.storage.database import Database
from tests.shop import Shop

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
PG_URL = os.environ.get("SHOPEVENTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = os.environ.get("SHOPEVENTS_TEST_BACKENDS", "sqlite,postgres").split(",")


def pg_url_for(name: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield pg_url_for(name)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.close()


class StoreInfo(msgspec.Struct):
    id: str
    key_id: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"apiKey {self.key_id}:{self.secret}"}


def make_store(db: Database, name: str = "Test store", **kw: Any) -> StoreInfo:
    conn = db.connect()
    try:
        with conn.transaction():
            now = to_micros(SystemClock().now())
            rec = stores.create_store(conn, name, now=now, **kw)
            key_id, secret = stores.create_api_key(conn, rec.id, now=now)
    finally:
        conn.close()
    return StoreInfo(rec.id, key_id, secret)


@pytest.fixture
def store(db: Database) -> StoreInfo:
    return make_store(db)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app on a real port, served by uvicorn in a background thread."""

    def __init__(self, settings: Settings, db: Database, clock: Any) -> None:
        self.port = free_port()
        settings = msgspec.structs.replace(settings, host="127.0.0.1", port=self.port)
        self.app = create_app(settings, db, clock)
        self.config = uvicorn_config(self.app, settings, loop="asyncio")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx


@pytest.fixture
def settings() -> Settings:
    return Settings(worker=Settings().worker.__class__(enabled=False))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def shop(db: Database, clock: FixedClock) -> Iterator[Shop]:
    """A store driven through the real intake transaction (carts fall due after 30 min)."""
    s = Shop(db, clock)
    yield s
    s.close()


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    live = LiveServer(settings, db, SystemClock()).start()
    yield live
    live.stop()


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def ingest_path(store_id: str) -> str:
    return f"/integration-type/system/scrippet-notification/{store_id}"


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()
