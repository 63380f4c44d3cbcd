"""A refund or cancellation body, read into an `Adjustment` with the REST API's rules (used by
the REST API, the ingest extension event, the CLI and the dashboard): a refund by `amount` or by
`lines`, a cancellation, each date ISO 8601 (default: the time received)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shopevents.clock import to_micros
from shopevents.domain import adjustments
from shopevents.errors import ApiError, FieldError, validation_error
from shopevents.schema import models as m
from shopevents.schema.dates import parse_iso8601
from shopevents.storage.codec import money_to_db

MAX_AMOUNT = Decimal(10**12)
"""The largest refund (far below what exact millionths in 64 bits can hold)."""


def invalid(path: str, message: str) -> ApiError:
    return validation_error([FieldError(path, message)])


def _id(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise invalid(f"/{key}", "Expected a non-empty text")
    if len(value) > m.MAX_ID_LENGTH:
        raise invalid(f"/{key}", f"Expected at most {m.MAX_ID_LENGTH} characters")
    return value


def _when(obj: dict[str, Any], key: str, now: int) -> int:
    value = obj.get(key)
    if value is None:
        return now
    parsed = parse_iso8601(value) if isinstance(value, str) else None
    if parsed is None:
        raise invalid(f"/{key}", f"Expected an ISO 8601 date; received {value!r}")
    return to_micros(parsed.utc)


def _reason(obj: dict[str, Any]) -> str | None:
    """The reason as kept: without NUL (U+0000), as every ingested text, cut to 1,000
    characters."""
    value = obj.get("reason")
    if value is not None and not isinstance(value, str):
        raise invalid("/reason", "Expected a text")
    if not value:
        return None
    return value.replace("\x00", "")[:1000] or None


def parse_refund(obj: Any, purchase_id: str, now: int) -> adjustments.Adjustment:
    """A refund body as an Adjustment (ApiError 422 if unusable)."""
    if not isinstance(obj, dict):
        raise invalid("", "Expected a JSON object")
    refund_id = _id(obj, "refundId")
    if refund_id == adjustments.CANCELLATION_ID:
        raise invalid("/refundId", f"{refund_id!r} is reserved for the cancellation")
    at = _when(obj, "refundedAt", now)
    amount, lines = obj.get("amount"), obj.get("lines")
    if (amount is None) == (lines is None):
        raise invalid("", "Expected either `amount` or `lines`")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal | float):
            raise invalid("/amount", f"Expected a number; received {amount!r}")
        value = Decimal(str(amount))
        if not value.is_finite() or value < Decimal("0.000001") or value > MAX_AMOUNT:
            raise invalid(
                "/amount",
                f"Expected an amount more than zero, at most {MAX_AMOUNT}; received {amount}",
            )
        return adjustments.Adjustment(
            purchase_id, refund_id, "refund", at, amount=money_to_db(value), reason=_reason(obj)
        )
    if not isinstance(lines, list) or not lines:
        raise invalid("/lines", "Expected a non-empty list of {productId, quantity}")
    out = []
    for i, ln in enumerate(lines):
        if not isinstance(ln, dict):
            raise invalid(f"/lines/{i}", "Expected an object {productId, quantity}")
        pid = _id(ln, "productId")
        qty = ln.get("quantity")
        if isinstance(qty, Decimal | float):  # a whole number may come as 3.0
            whole = Decimal(str(qty))
            qty = int(whole) if whole.is_finite() and whole == whole.to_integral_value() else None
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= m.MAX_QUANTITY:
            raise invalid(
                f"/lines/{i}/quantity",
                f"Expected a whole number more than zero, at most {m.MAX_QUANTITY}",
            )
        out.append((pid, qty))
    return adjustments.Adjustment(
        purchase_id, refund_id, "refund", at, lines=tuple(out), reason=_reason(obj)
    )


def parse_cancellation(obj: Any, purchase_id: str, now: int) -> adjustments.Adjustment:
    if not isinstance(obj, dict):
        raise invalid("", "Expected a JSON object")
    return adjustments.Adjustment(
        purchase_id,
        adjustments.CANCELLATION_ID,
        "cancellation",
        _when(obj, "cancelledAt", now),
        reason=_reason(obj),
    )
