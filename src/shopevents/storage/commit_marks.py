"""Commit marks: a row each write transaction adds, so that a writer whose connection broke
after COMMIT was sent can ask, on a new connection, whether the transaction committed.

Only PostgreSQL needs them: a SQLite COMMIT runs in the process, so its outcome is always
known when it returns."""

from __future__ import annotations

from shopevents import ids
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

Mark = tuple[int, str]
"""(instant, random token) of one transaction."""

_INSERT = Insert("commit_marks", ("at", "token"))
_PRUNE = Statement("DELETE FROM commit_marks WHERE at < ?")
_FOUND = Statement("SELECT 1 FROM commit_marks WHERE at = ? AND token = ?")


def add(conn: Conn, at: int) -> Mark | None:
    """Queue the open transaction's mark and give it; None on a backend that needs none."""
    if conn.dialect != "postgres":
        return None
    mark = (at, ids.token(16))
    conn.append(_INSERT, mark)
    return mark


def prune(conn: Conn, before: int) -> None:
    """Drop the marks older than `before`."""
    conn.execute(_PRUNE, (before,))


def found(conn: Conn, mark: Mark) -> bool:
    """Whether the transaction of this mark committed."""
    return conn.scalar(_FOUND, mark) is not None
