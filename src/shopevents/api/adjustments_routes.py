"""REST routes of a purchase's lifecycle: refunds (by amount or by lines) and cancellation.

`POST /api/purchases/purchase-id/{purchaseId}/refunds` with
`{"refundId", "refundedAt", "amount"}` or `{"refundId", "refundedAt", "lines": [{"productId",
"quantity"}]}` (and an optional `reason`); `POST .../cancellation` with `{"cancelledAt",
"reason"}`. Answered `201 accepted`, `200 duplicate`, `409 adjustment_conflict` or `409
adjustment_refused` (what is left, in the message).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies
from shopevents.api.auth import store_of
from shopevents.api.shapes.adjustment_requests import CancellationRequest, RefundRequest
from shopevents.api.shapes.base import answer, conform
from shopevents.api.shapes.sales import Adjusted
from shopevents.domain import adjustments
from shopevents.domain.adjustment_bodies import invalid, parse_cancellation, parse_refund
from shopevents.errors import ApiError
from shopevents.runtime import runtime
from shopevents.schema import models as m
from shopevents.storage import reads
from shopevents.storage.database import Conn


def write_adjustment(store_id: str, a: adjustments.Adjustment, channel: str) -> Any:
    """A write (for the group committer or a plain transaction) that never raises a refusal:
    it gives ("refused", message) instead, having written nothing."""

    def write(conn: Conn, now: int) -> tuple[str, Any]:
        try:
            status, details = adjustments.record(conn, store_id, a, now=now, channel=channel)
        except adjustments.Refused as exc:
            return "refused", exc.message
        return status, {**details, "purchase": reads.purchase_by_id(conn, store_id, a.purchase_id)}

    return write


def outcome(status: str, details: Any, a: adjustments.Adjustment) -> Response:
    what = "cancellation" if a.kind == "cancellation" else f"refund {a.adjustment_id!r}"
    if status == "refused":
        raise ApiError("adjustment_refused", f"Purchase {a.purchase_id!r}: {details}")
    if status == "conflict":
        raise ApiError(
            "adjustment_conflict",
            f"A {what} of purchase {a.purchase_id!r} with a different content is already recorded; this one is not applied",
        )
    return answer(Adjusted, {"status": status, **details}, 201 if status == "accepted" else 200)


def refund_view(obj: dict[str, Any], a: adjustments.Adjustment) -> dict[str, Any]:
    """A refund body as `parse_refund` read it (a whole quantity sent as 3.0 is 3, a reason cut
    to its length), under the body's names."""
    view = {"refundId": a.adjustment_id, "refundedAt": obj.get("refundedAt"), "reason": a.reason}
    if a.lines is None:
        return {**view, "amount": obj["amount"]}
    return {**view, "lines": [{"productId": p, "quantity": q} for p, q in a.lines]}


async def post_adjustment(request: Request, kind: str) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    pid = request.path_params["purchase_id"]
    if "\x00" in pid or len(pid) > m.MAX_ID_LENGTH:
        raise invalid("/purchaseId", "Expected a purchase id")
    obj = bodies.decode_json(await bodies.api_body(request))
    now = ctx.now_us()
    if kind == "refund":
        a = parse_refund(obj, pid, now)
        conform(refund_view(obj, a), RefundRequest)
    else:
        a = parse_cancellation(obj, pid, now)
        conform({"cancelledAt": obj.get("cancelledAt"), "reason": a.reason}, CancellationRequest)
    status, details = await ctx.write(write_adjustment(store.id, a, "api"))
    return outcome(status, details, a)


async def refund(request: Request) -> Response:
    return await post_adjustment(request, "refund")


async def cancel(request: Request) -> Response:
    return await post_adjustment(request, "cancellation")
