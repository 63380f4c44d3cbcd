"""REST routes of a purchase's lifecycle: refunds (by amount or by lines) and cancellation.

`POST /api/purchases/purchase-id/{purchaseId}/refunds` with
`{"refundId", "refundedAt", "amount"}` or `{"refundId", "refundedAt", "lines": [{"productId",
"quantity"}]}` (and an optional `reason`); `POST .../cancellation` with `{"cancelledAt",
"reason"}`. Answered `201 accepted`, `200 duplicate`, `409 adjustment_conflict` or `409
adjustment_refused` (what is left, in the message).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.api import bodies
from shopevents.clock import to_micros
from shopevents.context import AppContext
from shopevents.domain import adjustments
from shopevents.errors import ApiError
from shopevents.responses import json_response
from shopevents.schema import models as m
from shopevents.schema.dates import parse_iso8601
from shopevents.storage import reads
from shopevents.storage.codec import money_to_db
from shopevents.storage.database import Conn

MAX_AMOUNT = Decimal(10**12)
"""The largest refund (far below what exact millionths in 64 bits can hold)."""


def _invalid(path: str, message: str) -> ApiError:
    return ApiError(
        "validation_failed",
        f"{path}: {message}",
        errors=[{"code": "invalid_value", "path": path, "message": message}],
        extra={"validationErrors": [{"path": path, "reason": message}]},
    )


def _id(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise _invalid(f"/{key}", "Expected a non-empty text")
    if len(value) > m.MAX_ID_LENGTH:
        raise _invalid(f"/{key}", f"Expected at most {m.MAX_ID_LENGTH} characters")
    return value


def _when(obj: dict[str, Any], key: str, now: int) -> int:
    value = obj.get(key)
    if value is None:
        return now
    parsed = parse_iso8601(value) if isinstance(value, str) else None
    if parsed is None:
        raise _invalid(f"/{key}", f"Expected an ISO 8601 date; received {value!r}")
    return to_micros(parsed.utc)


def _reason(obj: dict[str, Any]) -> str | None:
    value = obj.get("reason")
    if value is not None and not isinstance(value, str):
        raise _invalid("/reason", "Expected a text")
    return value[:1000] if value else None


def parse_refund(obj: Any, purchase_id: str, now: int) -> adjustments.Adjustment:
    """A refund body as an Adjustment (ApiError 422 if unusable)."""
    if not isinstance(obj, dict):
        raise _invalid("", "Expected a JSON object")
    refund_id = _id(obj, "refundId")
    if refund_id == adjustments.CANCELLATION_ID:
        raise _invalid("/refundId", f"{refund_id!r} is reserved for the cancellation")
    at = _when(obj, "refundedAt", now)
    amount, lines = obj.get("amount"), obj.get("lines")
    if (amount is None) == (lines is None):
        raise _invalid("", "Expected either `amount` or `lines`")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal | float):
            raise _invalid("/amount", f"Expected a number; received {amount!r}")
        value = Decimal(str(amount))
        if not value.is_finite() or value < Decimal("0.000001") or value > MAX_AMOUNT:
            raise _invalid(
                "/amount",
                f"Expected an amount more than zero, at most {MAX_AMOUNT}; received {amount}",
            )
        return adjustments.Adjustment(
            purchase_id, refund_id, "refund", at, amount=money_to_db(value), reason=_reason(obj)
        )
    if not isinstance(lines, list) or not lines:
        raise _invalid("/lines", "Expected a non-empty list of {productId, quantity}")
    out = []
    for i, ln in enumerate(lines):
        if not isinstance(ln, dict):
            raise _invalid(f"/lines/{i}", "Expected an object {productId, quantity}")
        pid = _id(ln, "productId")
        qty = ln.get("quantity")
        if isinstance(qty, Decimal | float):  # a whole number may come as 3.0
            whole = Decimal(str(qty))
            qty = int(whole) if whole.is_finite() and whole == whole.to_integral_value() else None
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= m.MAX_QUANTITY:
            raise _invalid(
                f"/lines/{i}/quantity",
                f"Expected a whole number more than zero, at most {m.MAX_QUANTITY}",
            )
        out.append((pid, qty))
    return adjustments.Adjustment(
        purchase_id, refund_id, "refund", at, lines=tuple(out), reason=_reason(obj)
    )


def parse_cancellation(obj: Any, purchase_id: str, now: int) -> adjustments.Adjustment:
    if not isinstance(obj, dict):
        raise _invalid("", "Expected a JSON object")
    return adjustments.Adjustment(
        purchase_id,
        adjustments.CANCELLATION_ID,
        "cancellation",
        _when(obj, "cancelledAt", now),
        reason=_reason(obj),
    )


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


def answer(status: str, details: Any, a: adjustments.Adjustment) -> Response:
    what = "cancellation" if a.kind == "cancellation" else f"refund {a.adjustment_id!r}"
    if status == "refused":
        raise ApiError("adjustment_refused", f"Purchase {a.purchase_id!r}: {details}")
    if status == "conflict":
        raise ApiError(
            "adjustment_conflict",
            f"A {what} of purchase {a.purchase_id!r} with a different content is already recorded; this one is not applied",
        )
    return json_response({"status": status, **details}, 201 if status == "accepted" else 200)


def routes(ctx: AppContext, store_of: Any, write: Any) -> list[Route]:
    async def post(request: Request, kind: str) -> Response:
        store = await store_of(request)
        pid = request.path_params["purchase_id"]
        if "\x00" in pid or len(pid) > m.MAX_ID_LENGTH:
            raise _invalid("/purchaseId", "Expected a purchase id")
        body = await bodies.read_bytes(request, ctx.settings.ingest.api_max_body_bytes)
        obj = bodies.decode_json(body)
        now = to_micros(ctx.clock.now())
        a = parse_refund(obj, pid, now) if kind == "refund" else parse_cancellation(obj, pid, now)
        status, details = await write(write_adjustment(store.id, a, "api"))
        return answer(status, details, a)

    async def refund(request: Request) -> Response:
        return await post(request, "refund")

    async def cancel(request: Request) -> Response:
        return await post(request, "cancellation")

    return [
        Route("/api/purchases/purchase-id/{purchase_id:text}/refunds", refund, methods=["POST"]),
        Route(
            "/api/purchases/purchase-id/{purchase_id:text}/cancellation", cancel, methods=["POST"]
        ),
    ]
