"""One Segment message judged as an ingest request: decoded with exact numbers, checked
against Segment's limits, mapped (`mapping.py`) and judged by the same decoder as the browser
protocol, giving a `Prepared` request with channel `segment`."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import msgspec

from shopevents.errors import issue
from shopevents.ingest.intake import Prepared, prepare
from shopevents.schema.verdicts import CheckContext, Verdict, read_envelope
from shopevents.segment.cart_changes import CartChange
from shopevents.segment.mapping import map_message, request_key, text_of
from shopevents.storage.stores import StoreRecord

MAX_MESSAGE_BYTES = 32 * 1024
"""Segment's limit for one message."""
MAX_BATCH_BYTES = 500 * 1024
"""Segment's limit for one batch request."""

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)

TYPES = {"identify", "track", "page", "screen", "alias", "group"}


def decode(raw: bytes) -> Any:
    """A message as Python values, numbers exact (Decimal)."""
    return _DECODER.decode(raw)


def _rejected(
    store: StoreRecord, raw: bytes, key: str | None, code: str, path: str, message: str
) -> Prepared:
    """A message that cannot be mapped: one rejected event, quarantined raw."""
    body = _ENCODER.encode({"segment": msgspec.Raw(raw), "mapping": "rejected"})
    return Prepared(
        store=store,
        channel="segment",
        body=body,
        request_key=key,
        events=[
            Verdict(
                index=0,
                type="segment",
                status="rejected",
                raw=raw,
                error=issue(code, path, message),
            )
        ],
    )


def prepare_message(
    store: StoreRecord,
    raw: bytes,
    msg: Any,
    *,
    ctx: CheckContext,
    max_event_bytes: int,
    default_type: str | None = None,
    origin: str | None = None,
) -> Prepared:
    """One Segment message, judged: a `Prepared` request with channel `segment`."""
    if not isinstance(msg, dict):
        return _rejected(store, raw, None, "not_an_object", "", "Expected a message object")
    mid = text_of(msg.get("messageId"))
    key = request_key(mid) if mid else None
    if len(raw) > MAX_MESSAGE_BYTES:
        return _rejected(
            store,
            raw,
            key,
            "too_large",
            "",
            f"The message is {len(raw)} bytes; Segment's limit is {MAX_MESSAGE_BYTES}",
        )
    if default_type and "type" not in msg:
        msg["type"] = default_type
    if msg.get("type") not in TYPES:
        return _rejected(
            store,
            raw,
            key,
            "unknown_type",
            "/type",
            f"Expected one of {', '.join(sorted(TYPES))}; received {msg.get('type')!r}",
        )
    if not text_of(msg.get("anonymousId")) and not text_of(msg.get("userId")):
        return _rejected(
            store, raw, key, "missing_field", "/userId", "Either userId or anonymousId is required"
        )
    mapped = map_message(msg, mid or hashlib.sha256(raw).hexdigest())
    if not mid:
        mapped.envelope.pop("requestId", None)
    envelope_bytes = _ENCODER.encode(mapped.envelope)
    envelope = read_envelope(envelope_bytes)
    body = _ENCODER.encode(
        {"segment": msgspec.Raw(raw), "mapping": mapped.mapping, "mapped": mapped.envelope}
    )
    prepared = prepare(
        store,
        envelope,
        envelope_bytes,
        ctx=ctx,
        max_event_bytes=max_event_bytes,
        channel="segment",
        origin=origin,
    )
    prepared.body = body
    if mapped.cart_change is not None:
        op, props = mapped.cart_change
        prepared.cart_of = CartChange(op, props, ctx, mid or "")
    return prepared
