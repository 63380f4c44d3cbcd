"""Group commit: writes share a transaction; a fault in one costs only that one."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import pytest

from shopevents.clock import FixedClock
from shopevents.ingest import intake
from shopevents.ingest.committer import GroupCommitter
from shopevents.storage.database import Checkpointer, Conn, Database
from tests.shop import Shop, line, purchase


def insert(name: str) -> Any:
    def write(conn: Conn, now: int) -> str:
        conn.execute(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, 'x', ?)",
            (name, now),
        )
        return name

    return write


def boom(conn: Conn, now: int) -> None:
    conn.execute(
        "INSERT INTO users (username, password_hash, created_at) VALUES ('boom', 'x', ?)", (now,)
    )
    raise ValueError("a fault in this write only")


async def run_batch(committer: GroupCommitter, writes: list[Any]) -> list[Any]:
    return await asyncio.gather(*(committer.submit(w) for w in writes), return_exceptions=True)


@pytest.mark.parametrize("threaded", [False, True], ids=["loop", "thread"])
@pytest.mark.parametrize("bad", ["python", "sql"])
def test_one_bad_write_costs_only_itself(db: Database, bad: str, threaded: bool) -> None:
    committer = GroupCommitter(db, FixedClock(), threaded=threaded)
    faulty = boom if bad == "python" else insert("a")  # "a" twice: a unique violation
    try:
        results = asyncio.run(run_batch(committer, [insert("a"), faulty, insert("b"), insert("c")]))
    finally:
        committer.close()
    assert results[0] == "a" and results[2] == "b" and results[3] == "c"
    assert isinstance(results[1], Exception)
    assert committer.batches == 1
    with db.reader() as c:
        names = sorted(r[0] for r in c.all("SELECT username FROM users"))
    assert names == ["a", "b", "c"]


@pytest.mark.parametrize("threaded", [False, True], ids=["loop", "thread"])
def test_writes_waiting_together_share_one_transaction(db: Database, threaded: bool) -> None:
    committer = GroupCommitter(db, FixedClock(), threaded=threaded)
    try:
        results = asyncio.run(run_batch(committer, [insert(f"u{i}") for i in range(50)]))
    finally:
        committer.close()
    assert results == [f"u{i}" for i in range(50)]
    assert committer.batches == 1 and committer.writes == 50


def test_on_the_writer_thread_the_loop_runs_while_a_batch_is_in_flight(db: Database) -> None:
    """A slow batch does not hold the loop; writes submitted meanwhile make the next batch,
    and every write is answered in order."""
    committer = GroupCommitter(db, FixedClock(), threaded=True)
    release = threading.Event()

    def slow(conn: Conn, now: int) -> str:
        assert release.wait(10)
        return insert("slow")(conn, now)

    async def scenario() -> tuple[list[Any], int]:
        first = asyncio.ensure_future(committer.submit(slow))
        await asyncio.sleep(0.05)  # the slow batch is in flight on the writer thread
        ticks = 0
        later = [asyncio.ensure_future(committer.submit(insert(f"n{i}"))) for i in range(20)]
        for _ in range(10):  # the loop keeps turning meanwhile
            await asyncio.sleep(0)
            ticks += 1
        release.set()
        return await asyncio.gather(first, *later), ticks

    try:
        results, ticks = asyncio.run(scenario())
        assert committer.run_now(insert("after")) == "after"
    finally:
        committer.close()
    assert ticks == 10
    assert results == ["slow", *(f"n{i}" for i in range(20))]
    assert committer.batches == 2 and committer.writes == 21
    with db.reader() as c:
        assert c.scalar("SELECT COUNT(*) FROM users") == 22


def test_the_sqlite_log_starts_again_under_steady_writes(tmp_path: Any) -> None:
    """With background checkpoints, the writer checkpoints the tail once the log passes its
    limit, so the log is reused instead of growing with every batch."""
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    db.migrate()
    committer = GroupCommitter(
        db, FixedClock(), background_checkpoints=True, wal_reset_bytes=256 << 10
    )

    wal = tmp_path / "wal.db-wal"
    sizes: list[int] = []

    async def steady() -> None:
        for i in range(400):
            await committer.submit(_big_user(i))
            sizes.append(wal.stat().st_size)

    try:
        asyncio.run(steady())
    finally:
        committer.close()
    # 400 writes of 20 KB: 8 MB went through the log; it was reused well below that.
    assert max(sizes) < 2 << 20
    with db.reader() as c:
        assert c.scalar("SELECT COUNT(*) FROM users") == 400
    db.close()


def test_with_a_background_checkpointer_the_writer_waits_for_its_pass(tmp_path: Any) -> None:
    """Past the limit the writer wakes the background checkpointer and checkpoints the tail
    itself only after that pass: the log is still reused, and the passes came from the
    wake-ups (the checkpointer's own interval is far longer than the test)."""
    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    db.migrate()
    committer = GroupCommitter(
        db, FixedClock(), background_checkpoints=True, wal_reset_bytes=256 << 10
    )
    checkpointer = Checkpointer(db, interval=3600).start()
    committer.checkpointer = checkpointer
    wal = tmp_path / "wal.db-wal"
    sizes: list[int] = []

    async def steady() -> None:
        for i in range(400):
            await committer.submit(_big_user(i))
            await asyncio.sleep(0.002)  # the checkpointer's thread gets the GIL
            sizes.append(wal.stat().st_size)

    try:
        asyncio.run(steady())
    finally:
        committer.close()
        checkpointer.stop()
    assert checkpointer.passes >= 2
    # The log started again (its file cut back) several times, and never held more than half
    # of the 8 MB that went through it. How far it grows before a pass ends depends on how soon
    # the checkpointer's thread runs, which a loaded machine delays.
    restarts = sum(1 for before, after in itertools.pairwise(sizes) if after < before)
    assert restarts >= 2, sizes
    assert max(sizes) < 4 << 20
    with db.reader() as c:
        assert c.scalar("SELECT COUNT(*) FROM users") == 400
    db.close()


def _big_user(i: int) -> Any:
    def write(conn: Conn, now: int) -> None:
        conn.execute(
            "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
            (f"u{i}", "x" * 20_000, now),
        )

    return write


@pytest.mark.parametrize("threaded", [False, True], ids=["loop", "thread"])
def test_a_purchase_stored_by_another_writer_after_the_look_ups_is_a_duplicate(
    db: Database, threaded: bool
) -> None:
    """The batch's look-ups found the purchaseId absent, then another process recorded it:
    the batch (here of one request) runs again alone, and the purchase is a duplicate, not
    an error and not counted twice."""
    if db.dialect == "sqlite":
        pytest.skip("SQLite: the writer lock is held from before the look-ups to COMMIT")
    clock = FixedClock()
    shop = Shop(db, clock)
    order = [purchase("P-race", line("A", 2, "10"))]
    prepared = shop.prepare(order, email="race@example.com")

    def look_up_then_lose_the_race(conn: Conn, batch: list[intake.Prepared]) -> None:
        intake.warm(conn, batch)
        assert shop.send(order, email="race@example.com")["results"][0]["status"] == "accepted"

    committer = GroupCommitter(db, clock, threaded=threaded)
    try:

        async def go() -> Any:
            return await committer.submit(
                lambda conn, t: intake.apply(conn, prepared, t),
                (look_up_then_lose_the_race, prepared),
            )

        answer = asyncio.run(go())
    finally:
        committer.close()
    try:
        assert answer["results"][0]["status"] == "duplicate"
        assert shop.one("SELECT COUNT(*) FROM purchases") == 1
        assert (
            shop.one("SELECT total_purchases FROM contacts WHERE email = 'race@example.com'") == 1
        )
    finally:
        shop.close()


@pytest.mark.parametrize("threaded", [False, True], ids=["loop", "thread"])
def test_a_transaction_takes_at_most_max_events(db: Database, threaded: bool) -> None:
    """Writes of 4 events each with a cap of 10 events: two per transaction; a write heavier
    than the cap has a transaction of its own."""
    committer = GroupCommitter(db, FixedClock(), threaded=threaded, max_events=10)

    async def run() -> list[Any]:
        weights = [4, 4, 4, 4, 4, 25, 1]
        return await asyncio.gather(
            *(committer.submit(insert(f"u{i}"), None, w) for i, w in enumerate(weights))
        )

    try:
        results = asyncio.run(run())
    finally:
        committer.close()
    assert results == [f"u{i}" for i in range(7)]
    # (4, 4), (4, 4), (4), (25), (1): the heavy one may not share, the light one may not
    # join it.
    assert committer.batches == 5
