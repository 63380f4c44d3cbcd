"""What the REST API writes, each run inside the group-commit transaction."""

from __future__ import annotations

from typing import Any

from shopevents.cluster import claims
from shopevents.domain import catalog, identity, purchases
from shopevents.schema import models as m
from shopevents.schema.dates import ParsedDate
from shopevents.storage import reads, requests
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
    request_id = requests.insert(
        conn,
        requests.RequestRow(
            store_id=store.id,
            received_at=now,
            channel="api",
            request_key=None,
            tracker_id=None,
            origin=None,
            body=body,
            response="",
            contact_id=contact_id,
            accepted=0,
            rejected=0,
        ),
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
    requests.insert_event(
        conn,
        store.id,
        request_id,
        0,
        "purchase",
        status,
        now,
        contact_id,
        dumps(warnings) if warnings else None,
        dumps(event),
    )
    catalog.upsert(conn, store.id, list(p.products), now)
    response = {"status": status, "warnings": warnings}
    requests.set_response(
        conn,
        request_id,
        dumps({"results": [{"index": 0, "type": "purchase", **response}]}),
        int(status == "accepted"),
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
