"""Custom event types of a store: id, alias (unique in the store), the JSON pointer of the
contact's e-mail and the payload mapping (field -> JSON pointer; None keeps the whole body)."""

from __future__ import annotations

from typing import Any

import msgspec

from shopevents.jsoncodec import dumps, loads
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso


class CustomEventType(msgspec.Struct, kw_only=True):
    store_id: str
    id: str
    alias: str
    contact_email: str
    payload: dict[str, str] | None = None
    created_at: int = 0

    def view(self) -> dict[str, Any]:
        """The type as the REST API and the CLI show it."""
        return {
            "id": self.id,
            "alias": self.alias,
            "contactEmail": self.contact_email,
            "payload": self.payload,
            "createdAt": iso(self.created_at),
        }


_COLS = "store_id, id, alias, contact_email, payload, created_at"


def _row(row: Any) -> CustomEventType:
    return CustomEventType(
        store_id=row[0],
        id=row[1],
        alias=row[2],
        contact_email=row[3],
        payload=loads(row[4]) if row[4] is not None else None,
        created_at=int(row[5]),
    )


def insert(conn: Conn, t: CustomEventType) -> None:
    conn.execute(
        f"INSERT INTO custom_event_types ({_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
        (
            t.store_id,
            t.id,
            t.alias,
            t.contact_email,
            dumps(t.payload) if t.payload is not None else None,
            t.created_at,
        ),
    )


def by_id(conn: Conn, store_id: str, type_id: str) -> CustomEventType | None:
    if "\x00" in type_id:  # no id holds NUL (PostgreSQL refuses it in a query)
        return None
    row = conn.one(
        f"SELECT {_COLS} FROM custom_event_types WHERE store_id = ? AND id = ?",
        (store_id, type_id),
    )
    return _row(row) if row else None


def by_alias(conn: Conn, store_id: str, alias: str) -> CustomEventType | None:
    if "\x00" in alias:
        return None
    row = conn.one(
        f"SELECT {_COLS} FROM custom_event_types WHERE store_id = ? AND alias = ?",
        (store_id, alias),
    )
    return _row(row) if row else None


def list_types(conn: Conn, store_id: str) -> list[CustomEventType]:
    return [
        _row(r)
        for r in conn.all(
            f"SELECT {_COLS} FROM custom_event_types WHERE store_id = ? ORDER BY alias",
            (store_id,),
        )
    ]


def delete(conn: Conn, store_id: str, type_id: str) -> bool:
    if "\x00" in type_id:
        return False
    found = conn.scalar(
        "SELECT 1 FROM custom_event_types WHERE store_id = ? AND id = ?", (store_id, type_id)
    )
    if found is None:
        return False
    conn.execute(
        "DELETE FROM custom_event_types WHERE store_id = ? AND id = ?", (store_id, type_id)
    )
    return True
