"""The outbox as stored: facts for the outside world, written in the transaction that
produces them and delivered later by the worker."""

from __future__ import annotations

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert

_INSERT = Insert("outbox", ("store_id", "topic", "occurred_at", "payload"))


def append(conn: Conn, store_id: str, topic: str, at: int, payload: str) -> None:
    """Queue one fact (`payload`: its JSON text)."""
    conn.append(_INSERT, (store_id, topic, at, payload))
