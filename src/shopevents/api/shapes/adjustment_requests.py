"""A purchase's refund and cancellation bodies, as Structs (see `requests`)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, UnsetType

from shopevents.api.openapi_common import TEXT
from shopevents.api.shapes.base import Body
from shopevents.domain.adjustment_bodies import MAX_AMOUNT
from shopevents.domain.adjustments import CANCELLATION_ID
from shopevents.schema import models as m

Id = Annotated[str, Meta(min_length=1, max_length=m.MAX_ID_LENGTH, pattern=TEXT)]
Reason = Annotated[str, Meta(max_length=1000)]


class RefundLine(Body):
    productId: Id
    quantity: Annotated[int, Meta(ge=1, le=m.MAX_QUANTITY)]


class RefundRequest(Body):
    """A refund by `amount` (in the purchase's currency) or by `lines` (a return)."""

    refundId: Id
    refundedAt: m.DateText | None = None
    amount: Annotated[float, Meta(ge=0.000001, le=int(MAX_AMOUNT))] | UnsetType = UNSET
    lines: Annotated[list[RefundLine], Meta(min_length=1)] | UnsetType = UNSET
    reason: Reason | None = None

    @classmethod
    def refine_schema(cls, schema: dict[str, Any]) -> None:
        """What JSON Schema from a Struct cannot say: `amount` or `lines`, not both, and the
        refund id the cancellation has."""
        schema["oneOf"] = [
            {"required": ["refundId", one], "not": {"required": [other]}}
            for one, other in (("amount", "lines"), ("lines", "amount"))
        ]
        schema["properties"]["refundId"]["not"] = {"const": CANCELLATION_ID}


class CancellationRequest(Body):
    cancelledAt: m.DateText | None = None
    reason: Reason | None = None
