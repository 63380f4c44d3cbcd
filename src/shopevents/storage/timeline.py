"""The timeline as stored: one `activities` row per contact and instant, its `items` a JSON
array of [type, eventId, data]."""

from __future__ import annotations

from typing import Any

import msgspec

from shopevents.jsoncodec import loads
from shopevents.storage.connection import Conn
from shopevents.storage.statements import Insert

_INSERT = Insert("activities", ("store_id", "contact_id", "at", "items"))
_PAGE = "SELECT id, at, items FROM activities WHERE store_id = ? AND contact_id = ?"
_BEFORE = " AND (at < ? OR (at = ? AND id <= ?))"
_ORDER = " ORDER BY at DESC, id DESC LIMIT ?"


class ActivityRow(msgspec.Struct):
    """One stored row of a contact's activities at one instant."""

    id: int
    at: int
    items: list[Any]


def append(conn: Conn, store_id: str, contact_id: str, at: int, items: str) -> None:
    """Queue one row (`items` as stored JSON)."""
    conn.append(_INSERT, (store_id, contact_id, at, items))


def rows(
    conn: Conn,
    store_id: str,
    contact_id: str,
    limit: int,
    before: tuple[int, int] | None = None,
) -> list[ActivityRow]:
    """A contact's rows, newest first, at most `limit`; `before` = (at, row id): rows before
    that instant, or at it up to that row."""
    sql = _PAGE
    params: list[Any] = [store_id, contact_id]
    if before is not None:
        sql += _BEFORE
        params += [before[0], before[0], before[1]]
    params.append(limit)
    return [ActivityRow(int(r[0]), int(r[1]), loads(r[2])) for r in conn.all(sql + _ORDER, params)]
