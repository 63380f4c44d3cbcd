"""The ingest extension for a purchase's lifecycle: a back end that posts through the ingest
endpoint sends a `custom` event with a reserved `eventId` (a shopevents extension; to
anything else it is an ordinary custom event):

- `shopevents:purchase-refund`, payload `{"purchaseId", "refundId", "refundedAt", "amount"}`
  or `{..., "lines": [{"productId", "quantity"}]}` (and an optional `reason`);
- `shopevents:purchase-cancellation`, payload `{"purchaseId", "cancelledAt", "reason"}`.

The event is stored like any custom event; the refund or cancellation is recorded in the
same transaction with the same rules as the REST API, and its outcome is in the event's
result as `adjustment`: `{"status": "accepted" | "duplicate" | "conflict" | "refused" |
"invalid", "message"?}`.
"""

from __future__ import annotations

from typing import Any

from shopevents.domain import adjustments
from shopevents.domain.adjustment_bodies import parse_cancellation, parse_refund
from shopevents.errors import ApiError
from shopevents.schema import models as m
from shopevents.schema.numbers import Unreadable
from shopevents.storage.database import Conn

REFUND = "shopevents:purchase-refund"
CANCELLATION = "shopevents:purchase-cancellation"
EVENT_IDS = frozenset({REFUND, CANCELLATION})


def apply(conn: Conn, store_id: str, ev: m.Custom, now: int, channel: str) -> dict[str, Any]:
    payload = dict(ev.payload or {})
    pid = payload.pop("purchaseId", None)
    if not isinstance(pid, str) or not pid or len(pid) > m.MAX_ID_LENGTH or "\x00" in pid:
        return {"status": "invalid", "message": "/payload/purchaseId: Expected a purchase id"}
    amount = payload.get("amount")
    if isinstance(amount, Unreadable):
        return {"status": "invalid", "message": "/payload/amount: Expected a number"}
    try:
        a = (
            parse_refund(payload, pid, now)
            if ev.eventId == REFUND
            else parse_cancellation(payload, pid, now)
        )
    except ApiError as exc:
        return {"status": "invalid", "message": exc.message}
    try:
        status, details = adjustments.record(conn, store_id, a, now=now, channel=channel)
    except adjustments.Refused as exc:
        return {"status": "refused", "message": exc.message}
    return {"status": status, **details}
