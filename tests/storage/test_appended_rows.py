"""Rows queued with `Conn.append` / `append_id`: written at commit, seen by reads in the same
transaction, never given an id twice, gone with a rollback. On both backends."""

from __future__ import annotations

import pytest

from shopevents.storage.database import COPY_MIN_ROWS, Database
from shopevents.storage.statements import Insert

INSERT = Insert("outbox", "store_id, topic, occurred_at, payload")
INSERT_EVENT = Insert(
    "events", "store_id, request_id, idx, type, status, received_at, contact_id, warnings, data"
)


def _event(n: int) -> tuple[object, ...]:
    return ("s1", 1, n, "page-visit", "accepted", 1000 + n, None, None, f'{{"n": {n}}}')


def test_appended_rows_are_written_at_commit(db: Database) -> None:
    conn = db.connect()
    other = db.connect()
    try:
        with conn.transaction():
            for i in range(5):
                conn.append(INSERT, ("s1", "ping", i, "{}"))
            assert other.scalar("SELECT COUNT(*) FROM outbox") == 0
        assert other.scalar("SELECT COUNT(*) FROM outbox") == 5
        assert [r[0] for r in other.all("SELECT occurred_at FROM outbox ORDER BY id")] == [
            0,
            1,
            2,
            3,
            4,
        ]
    finally:
        conn.close()
        other.close()


def test_a_read_in_the_transaction_sees_the_appended_rows(db: Database) -> None:
    conn = db.connect()
    try:
        with conn.transaction():
            conn.append(INSERT, ("s1", "ping", 1, "{}"))
            assert conn.scalar("SELECT COUNT(*) FROM outbox WHERE store_id = ?", ("s1",)) == 1
            conn.append(INSERT, ("s1", "ping", 2, "{}"))
            # A table not named in the statement is left queued; this one is written.
            assert conn.scalar("SELECT COUNT(*) FROM events") == 0
            assert conn.scalar("SELECT MAX(occurred_at) FROM outbox") == 2
    finally:
        conn.close()


def test_a_rollback_drops_the_appended_rows(db: Database) -> None:
    conn = db.connect()
    try:
        with pytest.raises(RuntimeError), conn.transaction():
            conn.append(INSERT, ("s1", "ping", 1, "{}"))
            conn.append_id(INSERT_EVENT, _event(1))
            raise RuntimeError("boom")
        with conn.transaction():
            conn.append(INSERT, ("s1", "ping", 2, "{}"))
        assert [tuple(r) for r in conn.all("SELECT occurred_at FROM outbox")] == [(2,)]
        assert conn.scalar("SELECT COUNT(*) FROM events") == 0
    finally:
        conn.close()


def test_ids_are_unique_across_appends_direct_inserts_and_reservations(db: Database) -> None:
    conn = db.connect()
    try:
        given: list[int] = []
        with conn.transaction():
            given.append(conn.append_id(INSERT_EVENT, _event(0)))
            given.append(conn.append_id(INSERT_EVENT, _event(1)))
            reserved = conn.reserve_id("events")
            # A read naming the table writes the queued rows; the reserved id stays reserved.
            assert conn.scalar("SELECT COUNT(*) FROM events") == 2
            # A direct insert takes an id of its own.
            given.append(conn.insert_id(INSERT_EVENT, _event(2)))
            given.append(conn.append_id(INSERT_EVENT, _event(3)))
            conn.append(INSERT_EVENT.with_id, (reserved, *_event(4)))
            given.append(reserved)
        with conn.transaction():
            given.append(conn.append_id(INSERT_EVENT, _event(5)))
        rows = {int(r[0]): int(r[1]) for r in conn.all("SELECT id, idx FROM events")}
        assert len(set(given)) == len(given) == 6
        assert sorted(rows) == sorted(given)
        assert rows[reserved] == 4
        assert rows[given[-1]] == 5
    finally:
        conn.close()


def test_outside_a_transaction_append_writes_at_once(db: Database) -> None:
    conn = db.connect()
    try:
        conn.append(INSERT, ("s1", "ping", 7, "{}"))
        new_id = conn.append_id(INSERT_EVENT, _event(9))
        assert conn.scalar("SELECT COUNT(*) FROM outbox") == 1
        assert conn.scalar("SELECT idx FROM events WHERE id = ?", (new_id,)) == 9
    finally:
        conn.close()


def test_many_rows_in_one_transaction(db: Database) -> None:
    conn = db.connect()
    try:
        with conn.transaction(pipelined=True):
            ids = [conn.append_id(INSERT_EVENT, _event(i)) for i in range(1200)]
        assert len(set(ids)) == 1200
        assert conn.scalar("SELECT COUNT(*) FROM events") == 1200
        assert conn.scalar("SELECT SUM(idx) FROM events") == sum(range(1200))
    finally:
        conn.close()


def test_ids_taken_long_ago_are_not_used(db: Database) -> None:
    """Report rollups treat ids older than ten minutes as final, so a connection may not
    write, late, an id it took long ago: on PostgreSQL, where ids come in blocks taken from
    the sequence ahead, a block older than `id_block_seconds` is dropped."""
    a = db.connect()
    b = db.connect()
    try:
        with a.transaction():
            first = a.append_id(INSERT_EVENT, _event(1))
        with b.transaction():
            later = b.append_id(INSERT_EVENT, _event(2))
        assert later > first
        with a.transaction():
            kept = a.append_id(INSERT_EVENT, _event(3))
        if db.dialect == "postgres":
            assert kept < later  # within its lifetime the block is used on
        a.id_block_seconds = 0
        with a.transaction():
            fresh = a.append_id(INSERT_EVENT, _event(4))
        assert fresh > later
    finally:
        a.close()
        b.close()


INSERT_REQUEST = Insert("requests", "store_id, received_at, channel, request_key, body, response")
AWKWARD_TEXTS = ["tab\there", "new\nline", "back\\slash \\N", "quote ' \" ", "ünïcödé ✓", "", "\\."]


def _awkward(i: int) -> tuple[object, ...]:
    text = AWKWARD_TEXTS[i % len(AWKWARD_TEXTS)]
    warnings = None if i % 3 else f"[{text!r}]"
    return ("s1", 2**40 + i, i, "page-visit", "accepted", 2**53 + i, text or None, warnings, text)


def test_many_queued_rows_of_a_statement_round_trip_exactly(db: Database) -> None:
    """From `COPY_MIN_ROWS` queued rows of one statement on, PostgreSQL writes them with COPY
    (after the pipeline, before COMMIT); the values come back exactly, next to a statement
    with fewer rows written the usual way, on both backends."""
    n = COPY_MIN_ROWS + 50
    conn = db.connect()
    try:
        with conn.transaction(pipelined=True):
            ids = [conn.append_id(INSERT_EVENT, _awkward(i)) for i in range(n)]
            for i in range(n):
                body = bytes([0, 9, 10, 92, 39, i % 256]) + "é".encode()
                conn.append(INSERT_REQUEST, ("s1", i, "web", f"k{i}\t", body, None))
            for i in range(5):
                conn.append(INSERT, ("s1", "ping", i, "{}"))
            # Both statements qualify for COPY (the outbox's 5 rows are too few).
            assert INSERT_EVENT.with_id.plain
            assert INSERT_REQUEST.plain
        got = conn.all(
            "SELECT id, store_id, request_id, idx, type, status, received_at, contact_id, "
            "warnings, data FROM events ORDER BY id"
        )
        assert [tuple(r) for r in got] == [(ids[i], *_awkward(i)) for i in range(n)]
        bodies = conn.all(
            "SELECT received_at, request_key, body FROM requests ORDER BY received_at"
        )
        assert [(r[0], r[1], bytes(r[2])) for r in bodies] == [
            (i, f"k{i}\t", bytes([0, 9, 10, 92, 39, i % 256]) + "é".encode()) for i in range(n)
        ]
        assert conn.scalar("SELECT COUNT(*) FROM outbox") == 5
    finally:
        conn.close()


def test_a_failed_copy_leaves_nothing(db: Database) -> None:
    """A row that breaks a constraint among many queued rows fails the whole transaction:
    nothing of it is written, and the connection works on."""
    conn = db.connect()
    explicit = (
        "INSERT INTO events (id, store_id, request_id, idx, type, status, received_at, "
        "contact_id, warnings, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    try:
        with pytest.raises(Exception), conn.transaction(pipelined=True):  # noqa: B017
            conn.append(INSERT, ("s1", "ping", 1, "{}"))
            for i in range(COPY_MIN_ROWS + 10):
                conn.append(explicit, (10_000 + min(i, 5), *_event(i)))  # id 10005 again
        assert conn.scalar("SELECT COUNT(*) FROM events") == 0
        assert conn.scalar("SELECT COUNT(*) FROM outbox") == 0
        with conn.transaction(pipelined=True):
            conn.append(INSERT, ("s1", "ping", 2, "{}"))
        assert conn.scalar("SELECT COUNT(*) FROM outbox") == 1
    finally:
        conn.close()
