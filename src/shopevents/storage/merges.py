"""Merges as stored: the rows that move from one contact to another, and the record of each
merge (what moved, so that it can be undone)."""

from __future__ import annotations

from typing import Any

import msgspec

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert, Statement

MOVED_TABLES = ("events", "activities", "carts", "purchases", "visits")
"""The tables whose rows belong to a contact by `contact_id` and move with a merge."""

_IDS = {t: Statement(f"SELECT id FROM {t} WHERE contact_id = ?") for t in MOVED_TABLES}
_MOVE = {t: Statement(f"UPDATE {t} SET contact_id = ? WHERE contact_id = ?") for t in MOVED_TABLES}
_MOVE_BACK = {
    t: Statement(f"UPDATE {t} SET contact_id = ? WHERE contact_id = ? AND id IN ")
    for t in MOVED_TABLES
}
_TRACKERS = Statement("SELECT tracker_id FROM trackers WHERE contact_id = ?")
_MOVE_TRACKERS = Statement("UPDATE trackers SET contact_id = ? WHERE contact_id = ?")
_POINT_TRACKER = Statement(
    "UPDATE trackers SET contact_id = ? WHERE store_id = ? AND tracker_id = ?"
)
_MERGED_INTO = Statement("UPDATE contacts SET merged_into = ?, updated_at = ? WHERE id = ?")
_INSERT = Insert(
    "merges", ("store_id", "from_contact", "into_contact", "request_id", "at", "moved")
)
_ONE = Statement(
    "SELECT from_contact, into_contact, moved, undone_at FROM merges WHERE id = ? AND store_id = ?"
)
_UNDONE = Statement("UPDATE merges SET undone_at = ? WHERE id = ?")

CHUNK = 500
"""Row ids moved back per statement."""


def move_all(conn: Conn, source: str, target: str) -> dict[str, list[Any]]:
    """Move every row of `source` (and its trackers) to `target`; give the ids moved, by table
    (`trackers`: the tracker ids)."""
    moved: dict[str, list[Any]] = {}
    for table in MOVED_TABLES:
        moved[table] = [r[0] for r in conn.all(_IDS[table], (source,))]
        conn.execute(_MOVE[table], (target, source))
    moved["trackers"] = [r[0] for r in conn.all(_TRACKERS, (source,))]
    conn.execute(_MOVE_TRACKERS, (target, source))
    return moved


def move_back(conn: Conn, store_id: str, source: str, target: str, moved: dict[str, Any]) -> None:
    """Move the rows and trackers a merge moved (`moved`, as `move_all` gave it) from
    `target` back to `source`."""
    for table in MOVED_TABLES:
        ids = moved.get(table) or []
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            marks = ",".join("?" * len(chunk))
            conn.execute(_MOVE_BACK[table] + f"({marks})", (source, target, *chunk))
    for tracker in moved.get("trackers") or []:
        conn.execute(_POINT_TRACKER, (source, store_id, tracker))


def set_merged_into(conn: Conn, contact_id: str, into: str | None, at: int) -> None:
    """The contact is merged into `into` (None: lives again)."""
    conn.execute(_MERGED_INTO, (into, at, contact_id))


def record(
    conn: Conn,
    store_id: str,
    source: str,
    target: str,
    request_id: int | None,
    at: int,
    moved: dict[str, Any],
) -> int:
    """Record a merge; give its id."""
    return conn.insert_id(_INSERT, (store_id, source, target, request_id, at, dumps(moved)))


class MergeRow(msgspec.Struct):
    from_contact: str
    into_contact: str
    moved: dict[str, Any]
    undone_at: int | None


def one(conn: Conn, store_id: str, merge_id: int) -> MergeRow | None:
    row = conn.one(_ONE, (merge_id, store_id))
    return None if row is None else MergeRow(row[0], row[1], loads(row[2]) or {}, row[3])


def mark_undone(conn: Conn, merge_id: int, at: int) -> None:
    conn.execute(_UNDONE, (at, merge_id))
