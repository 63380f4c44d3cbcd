"""Imports as stored: each import's row (its status, counts and errors), the journal of what
each chunk changed (to undo it), and the product and contact rows a chunk writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from shopevents.jsoncodec import loads
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

_BEGIN = Insert(
    "imports",
    "id, store_id, kind, status, source, row_count, records, started_at, heartbeat_at",
    ("?", "?", "?", "'writing'", "?", "?", "?", "?", "?"),
)
_FAILED = Insert(
    "imports",
    "id, store_id, kind, status, source, row_count, error_count, errors, started_at, "
    "heartbeat_at, finished_at",
    ("?", "?", "?", "'failed'", "?", "?", "?", "?", "?", "?", "?"),
)
_COUNTED = Statement(
    "UPDATE imports SET created = created + ?, updated = updated + ?, "
    "unchanged = unchanged + ?, heartbeat_at = ? WHERE id = ?"
)
_FINISHED = Statement(
    "UPDATE imports SET status = 'finished', finished_at = ?, heartbeat_at = ? WHERE id = ?"
)
_UNDONE = Statement(
    "UPDATE imports SET status = 'undone', finished_at = ?, heartbeat_at = ?, errors = ? "
    "WHERE id = ?"
)
_STALE = Statement(
    "SELECT id, kind FROM imports WHERE status = 'writing' AND heartbeat_at < ? AND store_id = ?"
)
_COLUMNS = (
    "id, kind, status, source, row_count, records, created, updated, unchanged, error_count, "
    "errors, started_at, finished_at"
)
_ONE = Statement(f"SELECT {_COLUMNS} FROM imports WHERE id = ?")
_ONE_OF_STORE = _ONE + " AND store_id = ?"
_RECENT = Statement(
    f"SELECT {_COLUMNS} FROM imports WHERE store_id = ? ORDER BY started_at DESC, id DESC LIMIT ?"
)


class NewImport(msgspec.Struct):
    """What an import's row starts with: its id, store, kind, source and rows read."""

    id: str
    store_id: str
    kind: str
    source: str | None
    rows: int
    at: int


def begin(conn: Conn, new: NewImport, records: int) -> None:
    """The import's row, `writing`."""
    n = new
    conn.execute(_BEGIN, (n.id, n.store_id, n.kind, n.source, n.rows, records, n.at, n.at))


def record_failed(conn: Conn, new: NewImport, error_count: int, errors: str) -> None:
    """A file refused whole (`errors`: JSON)."""
    n, at = new, new.at
    values = (n.id, n.store_id, n.kind, n.source, n.rows, error_count, errors, at, at, at)
    conn.execute(_FAILED, values)


def count(conn: Conn, import_id: str, created: int, updated: int, unchanged: int, at: int) -> None:
    """Add a chunk's counts to the import's."""
    conn.execute(_COUNTED, (created, updated, unchanged, at, import_id))


def mark_finished(conn: Conn, import_id: str, at: int) -> None:
    conn.execute(_FINISHED, (at, at, import_id))


def mark_undone(conn: Conn, import_id: str, errors: str, at: int) -> None:
    """The import was undone (`errors`: JSON, why)."""
    conn.execute(_UNDONE, (at, at, errors, import_id))


def stale(conn: Conn, store_id: str, before: int) -> list[tuple[str, str]]:
    """(id, kind) of the store's imports `writing` with no heartbeat since `before`."""
    return [(r[0], r[1]) for r in conn.all(_STALE, (before, store_id))]


class ImportRow(msgspec.Struct):
    id: str
    kind: str
    status: str
    source: str | None
    row_count: int
    records: int
    created: int
    updated: int
    unchanged: int
    error_count: int
    errors: Any  # the refused rows' errors (JSON, read), or None
    started_at: int | None
    finished_at: int | None


def _row(r: Any) -> ImportRow:
    return ImportRow(
        r[0],
        r[1],
        r[2],
        r[3],
        int(r[4]),
        int(r[5]),
        int(r[6]),
        int(r[7]),
        int(r[8]),
        int(r[9]),
        loads(r[10]),
        r[11],
        r[12],
    )


def one(conn: Conn, import_id: str, store_id: str | None = None) -> ImportRow | None:
    """The import (of this store, if given)."""
    if store_id is None:
        r = conn.one(_ONE, (import_id,))
    else:
        r = conn.one(_ONE_OF_STORE, (import_id, store_id))
    return _row(r) if r else None


def recent(conn: Conn, store_id: str, limit: int) -> list[ImportRow]:
    """The store's latest imports, newest first."""
    return [_row(r) for r in conn.all(_RECENT, (store_id, limit))]


# --- the journal ------------------------------------------------------------------------------

_JOURNAL = Insert("import_journal", ("import_id", "chunk", "row_key", "written_at", "before_row"))
_DROP_JOURNAL = Statement("DELETE FROM import_journal WHERE import_id = ? AND chunk = ?")
_JOURNAL_OF = Statement(
    "SELECT row_key, written_at, before_row FROM import_journal WHERE import_id = ? AND chunk = ?"
)
_CHUNKS = Statement(
    "SELECT DISTINCT chunk FROM import_journal WHERE import_id = ? ORDER BY chunk DESC"
)


def journal(conn: Conn, import_id: str, chunk: int, key: str, at: int, before: str | None) -> None:
    """Queue what a chunk changed of one row: `before`, its former values (JSON), or None for
    a row the chunk created."""
    conn.append(_JOURNAL, (import_id, chunk, key, at, before))


def drop_journal(conn: Conn, import_id: str, chunk: int) -> None:
    conn.execute(_DROP_JOURNAL, (import_id, chunk))


class JournalRow(msgspec.Struct):
    key: str
    written_at: int
    before: str | None


def journal_of(conn: Conn, import_id: str, chunk: int) -> list[JournalRow]:
    return [JournalRow(r[0], int(r[1]), r[2]) for r in conn.all(_JOURNAL_OF, (import_id, chunk))]


def journal_chunks(conn: Conn, import_id: str) -> list[int]:
    """The chunks of an import with a journal, last first."""
    return [int(r[0]) for r in conn.all(_CHUNKS, (import_id,))]


# --- the rows a chunk writes ------------------------------------------------------------------


class ProductRow(msgspec.Struct):
    name: str
    unit_price: int
    availability: str | None
    data: str
    updated_at: int


_INSERT_PRODUCT = Insert(
    "products",
    "store_id, product_id, name, unit_price, availability, data, first_seen, last_seen, updated_at",
)
_UPDATE_PRODUCT = Statement(
    "UPDATE products SET name = ?, unit_price = ?, availability = ?, data = ?, updated_at = ? "
    "WHERE store_id = ? AND product_id = ?"
)
_UNDO_NEW_PRODUCT = Statement(
    "DELETE FROM products WHERE store_id = ? AND product_id = ? AND updated_at = ?"
)
_UNDO_PRODUCT = Statement(
    "UPDATE products SET name = ?, unit_price = ?, availability = ?, data = ?, updated_at = ? "
    "WHERE store_id = ? AND product_id = ? AND updated_at = ?"
)


def products(conn: Conn, store_id: str, product_ids: Sequence[str]) -> dict[str, ProductRow]:
    """productId → the stored product, for those of `product_ids` stored."""
    rows = conn.rows_by_key(
        "products",
        "product_id",
        "name, unit_price, availability, data, updated_at",
        store_id,
        product_ids,
    )
    return {r[0]: ProductRow(r[1], int(r[2]), r[3], r[4], int(r[5])) for r in rows}


def write_products(
    conn: Conn,
    store_id: str,
    new: list[tuple[str, ProductRow]],
    changed: list[tuple[str, ProductRow]],
) -> None:
    """Insert the `new` products and update the `changed` ones ((productId, row) pairs)."""
    conn.executemany(
        _INSERT_PRODUCT,
        [
            (
                store_id,
                pid,
                p.name,
                p.unit_price,
                p.availability,
                p.data,
                p.updated_at,
                p.updated_at,
                p.updated_at,
            )
            for pid, p in new
        ],
    )
    conn.executemany(
        _UPDATE_PRODUCT,
        [
            (p.name, p.unit_price, p.availability, p.data, p.updated_at, store_id, pid)
            for pid, p in changed
        ],
    )


def undo_product(
    conn: Conn, store_id: str, product_id: str, written_at: int, before: ProductRow | None
) -> int:
    """Put the product back as it was (`before`; None: delete it) if it is still as the import
    wrote it at `written_at`; the rows changed."""
    if before is None:
        cur = conn.execute(_UNDO_NEW_PRODUCT, (store_id, product_id, written_at))
    else:
        b = before
        cur = conn.execute(
            _UNDO_PRODUCT,
            (
                b.name,
                b.unit_price,
                b.availability,
                b.data,
                b.updated_at,
                store_id,
                product_id,
                written_at,
            ),
        )
    return max(cur.rowcount or 0, 0)


class ContactRow(msgspec.Struct):
    id: str
    fields: str
    updated_at: int


_INSERT_CONTACT = Insert("contacts", "id, store_id, email, fields, created_at, updated_at")
_UPDATE_CONTACT = Statement("UPDATE contacts SET fields = ?, updated_at = ? WHERE id = ?")
_UNDO_NEW_CONTACT = Statement(
    "DELETE FROM contacts WHERE id = ? AND updated_at = ? AND total_purchases = 0 "
    "AND NOT EXISTS (SELECT 1 FROM trackers WHERE contact_id = ?) "
    "AND NOT EXISTS (SELECT 1 FROM events WHERE contact_id = ?) "
    "AND NOT EXISTS (SELECT 1 FROM carts WHERE store_id = ? AND contact_id = ?) "
    "AND NOT EXISTS (SELECT 1 FROM purchases WHERE contact_id = ?)"
)
_DROP_ACTIVITIES = Statement("DELETE FROM activities WHERE contact_id = ?")
_UNDO_CONTACT = Statement(
    "UPDATE contacts SET fields = ?, updated_at = ? WHERE id = ? AND updated_at = ?"
)


def contacts(conn: Conn, store_id: str, emails: Sequence[str]) -> dict[str, ContactRow]:
    """e-mail → the stored contact, for those of `emails` stored."""
    rows = conn.rows_by_key("contacts", "email", "id, fields, updated_at", store_id, emails)
    return {r[0]: ContactRow(r[1], r[2], int(r[3])) for r in rows}


def write_contacts(
    conn: Conn, store_id: str, new: list[tuple[str, ContactRow]], changed: list[ContactRow]
) -> None:
    """Insert the `new` contacts ((e-mail, row) pairs) and update the `changed` ones' fields."""
    conn.executemany(
        _INSERT_CONTACT,
        [(c.id, store_id, email, c.fields, c.updated_at, c.updated_at) for email, c in new],
    )
    conn.executemany(_UPDATE_CONTACT, [(c.fields, c.updated_at, c.id) for c in changed])


def undo_contact(
    conn: Conn, store_id: str, contact_id: str, written_at: int, before: ContactRow | None
) -> int:
    """Put the contact back as it was (`before`; None: delete it, with its activities, unless
    it has been seen since) if it is still as the import wrote it; the rows changed."""
    if before is None:
        key = contact_id
        cur = conn.execute(_UNDO_NEW_CONTACT, (key, written_at, key, key, store_id, key, key))
        if cur.rowcount:
            conn.execute(_DROP_ACTIVITIES, (key,))
    else:
        cur = conn.execute(
            _UNDO_CONTACT, (before.fields, before.updated_at, contact_id, written_at)
        )
    return max(cur.rowcount or 0, 0)
