"""Facts for the outside world, written in the transaction that produces them."""

from __future__ import annotations

from typing import Any

from shopevents.jsoncodec import dumps
from shopevents.storage import outbox as stored
from shopevents.storage.database import Conn

TOPICS = (
    "purchase.created",
    "purchase.conflict",
    "purchase.refunded",
    "purchase.cancelled",
    "cart.abandoned",
    "cart.recovered",
    "contact.created",
    "contact.identified",
    "contact.merged",
    "ping",
)


class Quiet:
    """A transaction's memo: while it holds one (a bot's request is being applied), `emit`
    writes nothing: nothing of it goes to the outside world."""


def emit(conn: Conn, store_id: str, topic: str, at: int, data: dict[str, Any]) -> None:
    assert topic in TOPICS, topic
    if conn.memo_if_any(Quiet) is not None:
        return
    stored.append(conn, store_id, topic, at, dumps(data))
