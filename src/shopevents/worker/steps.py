"""The worker's steps, run on one connection (the `shopevents worker` process)."""

from __future__ import annotations

from shopevents.clock import Clock, to_micros
from shopevents.config import Settings
from shopevents.domain.erasure import erase_pending
from shopevents.domain.retention import prune_due
from shopevents.storage.database import Conn
from shopevents.worker.abandonment import mark_due_abandoned


def run_once(conn: Conn, clock: Clock, settings: Settings) -> bool:
    """Run each step once; True if any of them found work."""
    busy = mark_due_abandoned(conn, clock, settings.worker.batch_size) > 0
    with conn.transaction():
        busy = erase_pending(conn, to_micros(clock.now())) or busy
    with conn.transaction():
        busy = prune_due(conn, to_micros(clock.now())) > 0 or busy
    try:
        from shopevents.webhooks.worker import deliver_due
    except ModuleNotFoundError:
        return busy
    return deliver_due(conn, clock, settings) > 0 or busy
