"""The abandonment step: due active carts become abandoned, once."""

from __future__ import annotations

from shopevents.clock import Clock, to_micros
from shopevents.domain import carts
from shopevents.storage.database import Conn


def mark_due_abandoned(conn: Conn, clock: Clock, limit: int = 500) -> int:
    """Abandon up to `limit` due carts in one transaction; give how many."""
    with conn.transaction():
        return carts.mark_due_abandoned(conn, to_micros(clock.now()), limit)
