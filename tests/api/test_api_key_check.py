"""The server's one API-key check (`stores.ApiKeyCheck`) on a real SQLite database: requests
waiting together share one read, and a request is never answered from a read that began
before it arrived, so a key revoked meanwhile is refused."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shopevents.errors import StorageUnavailable
from shopevents.storage import stores
from shopevents.storage.database import Conn, Database
from tests.conftest import StoreInfo, make_store


class Reads:
    """Real reads on the database, counted; `hold` keeps the next read from returning (after
    its query ran) until `release`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.count = 0
        self.queried = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.fail_next = False

    def hold(self) -> None:
        self.queried.clear()
        self.gate.clear()

    def run(self, fn: Callable[[Conn], Any]) -> Any:
        with self.db.reader() as conn:
            answer = fn(conn)
        self.queried.set()
        self.gate.wait(10)
        return answer

    async def __call__(self, fn: Callable[[Conn], Any]) -> Any:
        self.count += 1
        if self.fail_next:
            self.fail_next = False
            raise StorageUnavailable("the database did not answer a read within 1 s")
        return await asyncio.get_running_loop().run_in_executor(None, self.run, fn)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'keys.db'}")
    database.migrate()
    return database


def revoke(db: Database, store: StoreInfo) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            assert stores.revoke_api_key(conn, store.id, store.key_id, now=1)
    finally:
        conn.close()


def test_waiting_requests_share_one_read_and_each_gets_its_keys_answer(db: Database) -> None:
    one, two, gone = (make_store(db, name) for name in ("one", "two", "gone"))
    revoke(db, gone)
    reads = Reads(db)
    check = stores.ApiKeyCheck(reads)

    async def scenario() -> list[stores.ActiveKey | None]:
        ids = [one.key_id, two.key_id, gone.key_id, "key_unknown"] * 10
        return await asyncio.gather(*(check.active(k) for k in ids))

    answers = asyncio.run(scenario())
    assert reads.count == 1
    for i in range(0, 40, 4):
        first, second, revoked, unknown = answers[i : i + 4]
        assert first is not None and first.store_id == one.id and first.opens_with(one.secret)
        assert second is not None and second.store_id == two.id
        assert not second.opens_with(one.secret)
        assert revoked is None and unknown is None


def test_a_request_is_not_answered_from_a_read_that_began_before_it(db: Database) -> None:
    shop = make_store(db, "shop")
    reads = Reads(db)
    check = stores.ApiKeyCheck(reads)

    async def scenario() -> tuple[stores.ActiveKey | None, stores.ActiveKey | None]:
        reads.hold()
        before = asyncio.ensure_future(check.active(shop.key_id))
        # the first read has looked the key up (active) and not yet answered
        await asyncio.to_thread(reads.queried.wait, 10)
        revoke(db, shop)  # as the CLI would, on its own connection
        after = asyncio.ensure_future(check.active(shop.key_id))
        await asyncio.sleep(0)
        reads.gate.set()
        return await before, await after

    before, after = asyncio.run(scenario())
    assert before is not None and before.store_id == shop.id
    assert after is None
    assert reads.count == 2


def test_a_failed_read_answers_its_requests_and_the_next_request_reads_again(
    db: Database,
) -> None:
    shop = make_store(db, "shop")
    reads = Reads(db)
    check = stores.ApiKeyCheck(reads)

    async def scenario() -> stores.ActiveKey | None:
        reads.fail_next = True
        waiting = [check.active(shop.key_id), check.active("key_other")]
        for outcome in await asyncio.gather(*waiting, return_exceptions=True):
            assert isinstance(outcome, StorageUnavailable)
        return await check.active(shop.key_id)

    key = asyncio.run(scenario())
    assert key is not None and key.store_id == shop.id
    assert reads.count == 2


def test_a_request_that_goes_away_does_not_cancel_the_others(db: Database) -> None:
    shop = make_store(db, "shop")
    reads = Reads(db)
    check = stores.ApiKeyCheck(reads)

    async def scenario() -> stores.ActiveKey | None:
        reads.hold()
        leaving = asyncio.ensure_future(check.active(shop.key_id))
        staying = asyncio.ensure_future(check.active(shop.key_id))
        await asyncio.to_thread(reads.queried.wait, 10)
        leaving.cancel()
        reads.gate.set()
        return await staying

    key = asyncio.run(scenario())
    assert key is not None and key.store_id == shop.id
