"""REST routes of purchases: `POST /api/purchases` (the same ledger and verdicts as the
browser: `201 accepted`, `200 duplicate`, `409 purchase_conflict`) and `GET
/api/purchases/purchase-id/{purchaseId}`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies, writes
from shopevents.api.auth import store_of
from shopevents.api.params import EMAIL
from shopevents.api.shapes.base import answer
from shopevents.api.shapes.sales import Purchase, PurchaseRecorded
from shopevents.errors import ApiError, validation_error
from shopevents.runtime import runtime
from shopevents.schema import models as m
from shopevents.schema.verdicts import CheckContext, Verdict, check_purchase
from shopevents.storage import reads
from shopevents.storage.stores import StoreRecord

STRICT = {"invalid_enum", "invalid_field", "invalid_date", "invalid_email", "invalid_currency"}
"""Warnings that mean a field was dropped: the REST API refuses them (422) instead."""


def strict(verdict: Verdict) -> Any:
    """The decoded value, or `422` if the verdict rejects it or dropped a field."""
    errors = ([verdict.error] if verdict.error else []) + [
        w for w in verdict.warnings if w["code"] in STRICT
    ]
    if errors:
        raise validation_error(errors)
    return verdict.value


def check_context(request: Request, store: StoreRecord) -> CheckContext:
    """What the verdicts check a REST body against: now, the store's currency and domains."""
    now = runtime(request).clock.now()
    return CheckContext(now=now, currency=store.currency, domains=store.domains)


async def post_purchase(request: Request) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    body = await bodies.api_body(request)
    check = check_context(request, store)
    verdict = bodies.decode_purchase(body, check, ctx.settings.ingest.api_max_lines)
    p: m.PurchaseCreation = strict(verdict)
    warnings = list(verdict.warnings)
    date = check_purchase(p, "", check, warnings)
    errors = [w for w in warnings if w["code"] in STRICT]
    if p.contactEmail is not None and not EMAIL.match(p.contactEmail.strip()):
        errors.append(
            {
                "code": "invalid_email",
                "path": "/contactEmail",
                "message": f"Expected an e-mail address; received {p.contactEmail!r}",
            }
        )
    if errors:
        raise validation_error(errors)
    status, purchase = await ctx.write(
        lambda conn, now: writes.create_purchase(conn, now, store, body, p, date, warnings)
    )
    if status == "conflict":
        raise ApiError(
            "purchase_conflict",
            f"A purchase {p.purchaseId!r} with a different content is already recorded; this one is kept for review and not counted",
            extra={"purchase": purchase},
        )
    return answer(
        PurchaseRecorded,
        {"status": status, "warnings": warnings, "purchase": purchase},
        201 if status == "accepted" else 200,
    )


async def get_purchase(request: Request) -> Response:
    store = await store_of(request)
    pid = request.path_params["purchase_id"]
    found = (
        None
        if "\x00" in pid
        else await runtime(request).read(lambda c: reads.purchase_by_id(c, store.id, pid))
    )
    if found is None:
        raise ApiError("not_found", f"No purchase {pid!r} in this store")
    return answer(Purchase, found)
