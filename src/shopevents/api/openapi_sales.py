"""The OpenAPI operations of purchases, their refunds and cancellation, and the list of
purchases (`purchases_routes`, `adjustments_routes`, `reads_routes`)."""

from __future__ import annotations

from shopevents.api.openapi_common import (
    DAY,
    LIMIT,
    NOT_JSON,
    TOO_LARGE,
    Op,
    query,
    string_id,
)
from shopevents.api.shapes.adjustment_requests import CancellationRequest, RefundRequest
from shopevents.api.shapes.base import Body
from shopevents.api.shapes.sales import Adjusted, Purchase, PurchasePage, PurchaseRecorded
from shopevents.schema import models as m

PURCHASE = "/api/purchases/purchase-id/{purchase_id:text}"
PURCHASE_ID = {"purchaseId": string_id("The store's purchase id")}


def _adjustment(summary: str, operation_id: str, request: type[Body]) -> Op:
    return Op(
        summary,
        operation_id,
        {
            201: ("Accepted: applied, or kept until the purchase arrives", Adjusted),
            200: ("Duplicate: already recorded with the same content", Adjusted),
        },
        {
            400: NOT_JSON,
            409: "adjustment_conflict (the id is recorded with another content) or "
            "adjustment_refused (more than is left; the message says what is)",
            413: TOO_LARGE,
        },
        paths=PURCHASE_ID,
        request=request,
    )


OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/api/purchases/"): Op(
        "Record a purchase (same ledger as the browser: a resend is a duplicate)",
        "createPurchase",
        {
            201: ("Accepted: recorded and counted", PurchaseRecorded),
            200: (
                "Duplicate: already recorded with the same content; nothing counted twice",
                PurchaseRecorded,
            ),
        },
        {
            400: NOT_JSON,
            409: "Conflict: the purchaseId is recorded with a different content; kept for "
            "review, not counted",
            413: TOO_LARGE,
        },
        request=m.PurchaseCreation,
    ),
    ("GET", PURCHASE): Op(
        "A purchase by the store's purchaseId, with any conflicting versions",
        "getPurchase",
        {200: ("The purchase", Purchase)},
        {404: "No such purchase in this store"},
        paths=PURCHASE_ID,
    ),
    ("POST", PURCHASE + "/refunds"): _adjustment(
        "Refund a purchase by amount or by lines", "refundPurchase", RefundRequest
    ),
    ("POST", PURCHASE + "/cancellation"): _adjustment(
        "Cancel a purchase: takes all that is left", "cancelPurchase", CancellationRequest
    ),
    ("GET", "/api/purchases"): Op(
        "Purchases by purchase date, oldest first, keyset-paged",
        "listPurchases",
        {200: ("A page of purchases", PurchasePage)},
        query=(
            query("limit", LIMIT, "Items per page (50)"),
            query(
                "cursor",
                {"type": "string", "pattern": "^[0-9]{1,18}-[0-9]{1,18}$"},
                "The previous page's `nextCursor`",
            ),
            query("from", DAY, "First local day of the store"),
            query("to", DAY, "Last local day (a range ending before it starts is empty)"),
        ),
    ),
}
