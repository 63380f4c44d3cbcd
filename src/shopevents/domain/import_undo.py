"""Undoing an import (`domain.import_plan`), chunk by chunk from its journal: what a chunk
changed is put back where nothing changed it since; an import whose writer stopped is found
(`stale_imports`) and undone by the next one."""

from __future__ import annotations

from shopevents.jsoncodec import dumps, loads
from shopevents.storage import imports as stored
from shopevents.storage.database import Conn


def drop_journal(conn: Conn, import_id: str, number: int) -> None:
    stored.drop_journal(conn, import_id, number)


def undo_chunk(conn: Conn, store_id: str, import_id: str, number: int, kind: str) -> int:
    """Put back what one chunk changed, where nothing changed it since (a product or contact
    that traffic wrote after the chunk keeps what traffic wrote; a contact the chunk created
    that has been seen since (trackers, events, carts, purchases) is kept); the rows undone."""
    done = 0
    for j in stored.journal_of(conn, import_id, number):
        before = None if j.before is None else loads(j.before)
        if kind == "products":
            product = None if before is None else stored.ProductRow(*before)
            done += stored.undo_product(conn, store_id, j.key, j.written_at, product)
        else:
            contact = None if before is None else stored.ContactRow(j.key, *before)
            done += stored.undo_contact(conn, store_id, j.key, j.written_at, contact)
    drop_journal(conn, import_id, number)
    return done


def mark_undone(conn: Conn, import_id: str, reason: str, now: int) -> None:
    errors = dumps([{"code": "storage_unavailable", "message": reason}])
    stored.mark_undone(conn, import_id, errors, now)


def journal_chunks(conn: Conn, import_id: str) -> list[int]:
    return stored.journal_chunks(conn, import_id)


STALE_US = 60_000_000
"""An import whose writer has not written a chunk for this long died: it is undone."""


def stale_imports(conn: Conn, store_id: str, now: int) -> list[tuple[str, str]]:
    """(id, kind) of the store's imports left `writing` by a writer that stopped."""
    return stored.stale(conn, store_id, now - STALE_US)
