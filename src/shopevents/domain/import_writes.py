"""Writing an import's checked records (`domain.import_plan`), a chunk of `WRITE_BATCH` per
transaction: an existing product or contact (by `productId` / e-mail) is updated, the fields
of the record over the stored ones; a missing one is created; a record that changes nothing
writes nothing. Each chunk journals what it changed, for its undo (`domain.import_undo`).
A created contact's timeline starts with `entity-created`, data `{"email", "import": true}`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shopevents.domain import timeline
from shopevents.domain.import_checks import Checked
from shopevents.ids import new_id
from shopevents.jsoncodec import dumps, loads
from shopevents.storage import imports as stored
from shopevents.storage.codec import money_to_db
from shopevents.storage.database import Conn

WRITE_BATCH = 1000
"""Rows per statement while writing."""


def chunks(checked: Checked) -> list[list[str]]:
    keys = list(checked.records)
    return [keys[i : i + WRITE_BATCH] for i in range(0, len(keys), WRITE_BATCH)]


@dataclass(frozen=True)
class ChunkWrite:
    """One chunk of an import to write: a step of `plan`, called with the connection of its
    transaction and the time."""

    store_id: str
    import_id: str
    number: int
    kind: str
    keys: list[str]
    records: dict[str, bytes]

    def __call__(self, conn: Conn, now: int) -> dict[str, int]:
        """The chunk in the caller's transaction, journalled; its counts."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        if self.kind == "products":
            journal = _write_products(conn, self, now, counts)
        else:
            journal = _write_contacts(conn, self, now, counts)
        for key, before in journal:
            stored.journal(conn, self.import_id, self.number, key, now, before)
        stored.count(
            conn, self.import_id, counts["created"], counts["updated"], counts["unchanged"], now
        )
        return counts


def _write_products(
    conn: Conn, chunk: ChunkWrite, now: int, counts: dict[str, int]
) -> list[tuple[str, str | None]]:
    store_id, keys, records = chunk.store_id, chunk.keys, chunk.records
    found = stored.products(conn, store_id, keys)
    inserts: list[tuple[str, stored.ProductRow]] = []
    updates: list[tuple[str, stored.ProductRow]] = []
    journal: list[tuple[str, str | None]] = []
    for key in keys:
        row = loads(records[key])
        hit = found.get(key)
        if hit is None:
            data = row
            availability = data.get("availability") or "instock"
        else:
            data = {**(loads(hit.data) or {}), **row}
            availability = data.get("availability") or hit.availability or "instock"
        price = money_to_db(_decimal(data["unitPrice"]))
        text = dumps(data)
        if hit is None:
            inserts.append((key, stored.ProductRow(data["name"], price, availability, text, now)))
            journal.append((key, None))
        elif (hit.name, hit.unit_price, hit.availability, loads(hit.data)) != (
            data["name"],
            price,
            availability,
            loads(text),
        ):
            updates.append((key, stored.ProductRow(data["name"], price, availability, text, now)))
            journal.append(
                (key, dumps([hit.name, hit.unit_price, hit.availability, hit.data, hit.updated_at]))
            )
        else:
            counts["unchanged"] += 1
    stored.write_products(conn, store_id, inserts, updates)
    counts["created"] += len(inserts)
    counts["updated"] += len(updates)
    return journal


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _write_contacts(
    conn: Conn, chunk: ChunkWrite, now: int, counts: dict[str, int]
) -> list[tuple[str, str | None]]:
    store_id, keys, records = chunk.store_id, chunk.keys, chunk.records
    found = stored.contacts(conn, store_id, keys)
    inserts: list[tuple[str, stored.ContactRow]] = []
    updates: list[stored.ContactRow] = []
    journal: list[tuple[str, str | None]] = []
    for email in keys:
        row = loads(records[email])
        hit = found.get(email)
        if hit is None:
            cid = new_id(now)
            inserts.append((email, stored.ContactRow(cid, dumps(row), now)))
            journal.append((cid, None))
            continue
        current = loads(hit.fields) or {}
        merged = {**current, **row}
        if merged == current:
            counts["unchanged"] += 1
        else:
            updates.append(stored.ContactRow(hit.id, dumps(merged), now))
            journal.append((hit.id, dumps([hit.fields, hit.updated_at])))
    stored.write_contacts(conn, store_id, inserts, updates)
    for email, c in inserts:
        timeline.add(conn, store_id, c.id, now, "entity-created", {"email": email, "import": True})
    counts["created"] += len(inserts)
    counts["updated"] += len(updates)
    return journal
