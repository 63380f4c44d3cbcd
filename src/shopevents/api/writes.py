"""What the REST API writes, each run inside the group-commit transaction."""

from __future__ import annotations

from typing import Any

from shopevents.cluster import claims
from shopevents.domain import catalog, identity, purchases
from shopevents.schema import models as m
from shopevents.schema.dates import ParsedDate
from shopevents.storage import reads
from shopevents.storage.codec import dumps, plain
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


def create_purchase(
    conn: Conn,
    now: int,
    store: StoreRecord,
    body: bytes,
    p: m.PurchaseCreation,
    date: ParsedDate | None,
    warnings: list[dict[str, str]],
) -> tuple[str, dict[str, Any] | None]:
    contact_id = None
    email = p.contactEmail.strip().lower() if p.contactEmail else None
    if email:
        contact_id, _ = identity.contact_for_email(conn, store.id, email, now)
    request_id = conn.insert_id(
        "INSERT INTO requests (store_id, received_at, channel, contact_id, body, accepted, rejected) VALUES (?, ?, 'api', ?, ?, 0, 0)",
        (store.id, now, contact_id, body),
    )
    fp = purchases.fingerprint(p, p.currency or store.currency)
    status, _ = purchases.record(
        conn,
        store.id,
        contact_id,
        p,
        date,
        channel="api",
        request_id=request_id,
        now=now,
        store_currency=store.currency,
        contact_email=email,
        decided=claims.claim_one(conn, store.id, p.purchaseId, fp, now),
    )
    event = {"type": "purchase", "purchase": plain(p)}
    conn.execute(
        "INSERT INTO events (store_id, request_id, idx, type, status, received_at, contact_id, warnings, data) "
        "VALUES (?, ?, 0, 'purchase', ?, ?, ?, ?, ?)",
        (
            store.id,
            request_id,
            status,
            now,
            contact_id,
            dumps(warnings) if warnings else None,
            dumps(event),
        ),
    )
    catalog.upsert(conn, store.id, list(p.products), now)
    response = {"status": status, "warnings": warnings}
    conn.execute(
        "UPDATE requests SET response = ?, accepted = ? WHERE id = ?",
        (
            dumps({"results": [{"index": 0, "type": "purchase", **response}]}),
            int(status == "accepted"),
            request_id,
        ),
    )
    return status, reads.purchase_by_id(conn, store.id, p.purchaseId)


def patch_contact(
    conn: Conn, now: int, store_id: str, email: str, fields: dict[str, Any]
) -> tuple[dict[str, Any] | None, bool]:
    contact_id, created = identity.contact_for_email(conn, store_id, email, now)
    identity.update_fields(conn, contact_id, fields, now)
    return reads.contact_by_id(conn, store_id, contact_id), created


def patch_product(
    conn: Conn, now: int, store_id: str, product_id: str, data: dict[str, Any]
) -> dict[str, Any] | None:
    catalog.upsert_from_api(conn, store_id, product_id, data, now)
    return reads.product_by_id(conn, store_id, product_id)
