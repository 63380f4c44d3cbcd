"""What the REST API writes, each run inside the group-commit transaction."""

from __future__ import annotations

from typing import Any

from shopevents.cluster import claims
from shopevents.domain import catalog, identity, purchases
from shopevents.ingest import intake
from shopevents.schema import models as m
from shopevents.schema.dates import ParsedDate
from shopevents.schema.records import Verdict
from shopevents.storage import reads
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
    """A REST purchase, through the intake transaction as a server-side request of one
    purchase event (on the contact `contactEmail` names, if any): its ledger verdict and the
    purchase as recorded. In cluster mode it is first claimed against the purchases the
    collectors accepted and no processor applied yet."""
    email = p.contactEmail.strip().lower() if p.contactEmail else None
    fp = purchases.fingerprint(p, p.currency or store.currency)
    claimed = claims.claim_one(conn, store.id, p.purchaseId, fp, now)
    event = Verdict(
        index=0, type="purchase", warnings=warnings, value=(m.PurchaseEvent(purchase=p), date)
    )
    prepared = intake.Prepared(
        store=store,
        channel="api",
        body=body,
        events=[event],
        email=email,
        server_side=True,
        decided=None if claimed is None else {0: claimed},
    )
    answer = intake.apply(conn, prepared, now)
    return answer["results"][0]["status"], reads.purchase_by_id(conn, store.id, p.purchaseId)


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
