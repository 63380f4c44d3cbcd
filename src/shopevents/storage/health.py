"""What the server reports about storage: whether the database answers, the gauges of work
waiting in it, and what runs differently around each backend (the SQLite checkpointer, the
thread the writer's transactions run on)."""

from __future__ import annotations

from typing import NamedTuple

from shopevents.storage.database import Checkpointer, Conn, Database


class Gauges(NamedTuple):
    outbox_pending: int  # outbox rows not dispatched yet
    carts_due: int  # active carts past their abandonment time
    oldest_due: int | None  # the earliest abandonment time among them


def answer(conn: Conn) -> None:
    """Run the cheapest statement (raises when the database does not answer)."""
    conn.scalar("SELECT 1")


def gauges(conn: Conn, now: int) -> Gauges:
    pending = conn.scalar("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL")
    due = conn.one(
        "SELECT COUNT(*), MIN(abandon_at) FROM carts WHERE state = 'active' AND abandon_at <= ?",
        (now,),
    )
    return Gauges(int(pending or 0), int(due[0] or 0), None if due[1] is None else int(due[1]))


def start_checkpointer(db: Database) -> Checkpointer | None:
    """SQLite: a thread that checkpoints the write-ahead log off the event loop (started);
    PostgreSQL checkpoints by itself: None."""
    return Checkpointer(db).start() if db.dialect == "sqlite" else None


def writer_threaded(choice: str, db: Database) -> bool:
    """Whether the writer's transactions run on a thread of their own
    (`ingest.group_commit_thread`: on, off, or auto: on PostgreSQL, whose statements wait on
    the network, and off on SQLite, whose statements are short)."""
    return choice == "on" or (choice == "auto" and db.dialect == "postgres")
