"""The abandonment step's transaction: due active carts become abandoned, once."""

from __future__ import annotations

from collections.abc import Callable

from shopevents.clock import Clock, to_micros
from shopevents.domain import carts
from shopevents.storage.database import Conn


def abandon_due(limit: int) -> Callable[[Conn, int], int]:
    """The write that abandons up to `limit` due carts at `now`; it gives how many."""

    def write(conn: Conn, now: int) -> int:
        return carts.mark_due_abandoned(conn, now, limit)

    return write


def mark_due_abandoned(conn: Conn, clock: Clock, limit: int = 500) -> int:
    """`abandon_due` on one connection, in a transaction of its own (tests, bench); give how
    many carts it abandoned."""
    with conn.transaction():
        return abandon_due(limit)(conn, to_micros(clock.now()))
