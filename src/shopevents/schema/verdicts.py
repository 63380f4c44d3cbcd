"""Decoding with verdicts, the public entry: every event is decoded on its own; a clean event
takes the typed msgspec fast path, anything else goes through the lenient path, which coerces
what it can (with a warning for each change), drops malformed optional fields (with a
warning) and rejects only what cannot be used.

The parts live by concern: `records` (Verdict, CheckContext, EntityInfo), `envelope` (the
request's envelope), `reasons` (msgspec's errors as verdicts, the money hook, type
introspection), `lenient` (the lenient engine), `checks` (the business checks after
decoding), `emails` (the e-mail rule). Their public names are imported from here."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

from shopevents.errors import issue
from shopevents.schema import models as m
from shopevents.schema.checks import (
    check_cart,
    check_product,
    check_purchase,
    domain_allowed,
    post_check,
)
from shopevents.schema.dates import parse_iso8601
from shopevents.schema.emails import EMAIL_RE
from shopevents.schema.envelope import read_envelope
from shopevents.schema.lenient import (
    decode_leniently,
    drop_unreadable,
    needs_lenient,
    normalize,
)
from shopevents.schema.numbers import decode_any, strict_float_hook
from shopevents.schema.reasons import (
    money_hook,
    shown,
    struct_info,
)
from shopevents.schema.records import CheckContext, EntityInfo, Verdict

__all__ = [
    "EMAIL_RE",
    "CheckContext",
    "EntityInfo",
    "Verdict",
    "check_cart",
    "check_product",
    "check_purchase",
    "decode_cart",
    "decode_entity",
    "decode_event",
    "decode_leniently",
    "decode_model",
    "domain_allowed",
    "drop_unreadable",
    "money_hook",
    "needs_lenient",
    "normalize",
    "read_envelope",
]

_event_decoder = msgspec.json.Decoder(m.AnyEvent, dec_hook=money_hook, float_hook=strict_float_hook)


# --- public entry points ------------------------------------------------------------------


def decode_event(
    raw: bytes, index: int, ctx: CheckContext, max_bytes: int, *, scan: bool = True
) -> Verdict:
    """One event. `scan=False`: the caller found no lenient-path marker in a body holding
    `raw`, so `raw` holds none either."""
    ptr = f"/events/{index}"
    if len(raw) > max_bytes:
        return Verdict(
            index=index,
            type=_peek_type(raw),
            status="rejected",
            raw=raw,
            error=issue(
                "too_large", ptr, f"The event is {len(raw)} bytes; the limit is {max_bytes}"
            ),
        )
    warnings: list[dict[str, str]] = []
    try:
        return _decode_event(raw, index, ptr, ctx, warnings, scan)
    except RecursionError:
        return Verdict(
            index=index,
            type=_peek_type(raw),
            status="rejected",
            raw=raw,
            error=issue("too_deep", ptr, "The event is nested too deeply to be read"),
        )


class _Lenient(Exception):
    pass


def _decode_event(
    raw: bytes,
    index: int,
    ptr: str,
    ctx: CheckContext,
    warnings: list[dict[str, str]],
    scan: bool = True,
) -> Verdict:
    try:
        if scan and needs_lenient(raw):
            raise _Lenient
        ev: Any = _event_decoder.decode(raw)
    except (msgspec.ValidationError, _Lenient):
        obj = decode_any(raw)
        etype = obj.get("type") if isinstance(obj, dict) else None
        if not isinstance(obj, dict):
            return Verdict(
                index=index,
                type="",
                status="rejected",
                raw=raw,
                error=issue(
                    "not_an_object", ptr, f"Expected an event object; received {shown(obj)}"
                ),
            )
        cls = m.EVENT_TYPES.get(etype) if isinstance(etype, str) else None
        if cls is None:
            allowed = ", ".join(m.EVENT_TYPES)
            return Verdict(
                index=index,
                type=etype.replace("\x00", "\ufffd") if isinstance(etype, str) else "",
                status="rejected",
                raw=raw,
                error=issue(
                    "unknown_type",
                    f"{ptr}/type",
                    f"Expected one of {allowed}; received {shown(etype)}",
                ),
            )
        ev, err = decode_leniently(obj, cls, ptr, warnings)
        if err is not None:
            return Verdict(
                index=index,
                type=str(etype),
                status="rejected",
                raw=raw,
                warnings=warnings,
                error=err,
            )
    extra = post_check(ev, ptr, ctx, warnings)
    return Verdict(
        index=index, type=ev.__struct_config__.tag, value=(ev, extra), raw=raw, warnings=warnings
    )


def _peek_type(raw: bytes) -> str:
    mt = re.search(rb'"type"\s*:\s*"([^"]{1,40})"', raw[:4096])
    return mt.group(1).decode("utf-8", "replace") if mt else ""


_cart_decoder = msgspec.json.Decoder(m.Cart, dec_hook=money_hook, float_hook=strict_float_hook)


def decode_cart(raw: bytes, ctx: CheckContext, *, scan: bool = True) -> Verdict:
    """The cart; `scan` as for `decode_event`."""
    warnings: list[dict[str, str]] = []
    if not (scan and needs_lenient(raw)):
        try:  # the typed fast path, as for events
            cart = _cart_decoder.decode(raw)
        except (msgspec.ValidationError, RecursionError):
            pass
        else:
            check_cart(cart, "/cart", ctx, warnings)
            return Verdict(type="cart", value=cart, raw=raw, warnings=warnings)
    try:
        obj = decode_any(raw)
    except RecursionError:
        return _too_deep("cart", "/cart", raw)
    if obj is None:
        return Verdict(type="cart", status="absent")
    cart, err = decode_leniently(obj, m.Cart, "/cart", warnings)
    if err is not None:
        return Verdict(type="cart", status="rejected", raw=raw, warnings=warnings, error=err)
    check_cart(cart, "/cart", ctx, warnings)
    return Verdict(type="cart", value=cart, raw=raw, warnings=warnings)


_KNOWN = {f.encode_name for f in struct_info(m.EntityFields).fields}


def _too_deep(kind: str, ptr: str, raw: bytes) -> Verdict:
    return Verdict(
        type=kind,
        status="rejected",
        raw=raw,
        error=issue("too_deep", ptr, "The value is nested too deeply to be read"),
    )


def decode_entity(
    raw: bytes, ctx: CheckContext, base: str = "/entityInfo", *, obj: Any = None
) -> Verdict:
    """entityInfo (or a REST contact body already decoded, `obj`, with `base=""`): known
    fields checked, others kept."""
    warnings: list[dict[str, str]] = []
    decoded = obj is not None
    if not decoded:
        try:
            obj = decode_any(raw)
        except RecursionError:
            return _too_deep("entityInfo", base, raw)
    if obj is None:
        return Verdict(type="entityInfo", status="absent")
    if not isinstance(obj, dict):
        return Verdict(
            type="entityInfo",
            status="rejected",
            raw=raw,
            error=issue("not_an_object", base, f"Expected an object; received {shown(obj)}"),
        )
    custom = {k: v for k, v in obj.items() if k not in _KNOWN}
    known = {k: v for k, v in obj.items() if k in _KNOWN}
    drop_unreadable(custom, base, warnings)
    fields = None
    if not decoded and not needs_lenient(raw):
        try:  # the typed fast path: what it takes, `normalize` would leave as it is
            fields = msgspec.convert(known, m.EntityFields, strict=True)
        except msgspec.ValidationError:
            pass
    err = None
    if fields is None:
        fields, err = decode_leniently(known, m.EntityFields, base, warnings)
    if err is not None:  # every known field is optional, so this cannot normally happen
        return Verdict(type="entityInfo", status="rejected", raw=raw, warnings=warnings, error=err)
    if fields.primaryKey is not None:
        pk = fields.primaryKey.strip()
        if not EMAIL_RE.match(pk) or len(pk) > 254:
            warnings.append(
                issue(
                    "invalid_email",
                    f"{base}/primaryKey",
                    f"Expected an e-mail address; received {shown(fields.primaryKey)}",
                )
            )
            fields.primaryKey = None
        else:
            fields.primaryKey = pk.lower()
    if fields.trackerId is not None:
        fields.trackerId = fields.trackerId.strip()[:64] or None
    birth = None
    if fields.birthdate is not None:
        birth = parse_iso8601(fields.birthdate)
        if birth is None:
            warnings.append(
                issue(
                    "invalid_date",
                    f"{base}/_birthdate",
                    f"Expected an ISO 8601 date; received {shown(fields.birthdate)}; the field was dropped",
                )
            )
            fields.birthdate = None
    custom = msgspec.to_builtins(custom, builtin_types=(Decimal,))
    return Verdict(
        type="entityInfo",
        value=EntityInfo(fields=fields, custom=custom, birthdate=birth),
        raw=raw,
        warnings=warnings,
    )


def decode_model(body: bytes | Any, cls: type, ctx: CheckContext, base: str = "") -> Verdict:
    """For the REST API: one model, leniently, with warnings; rejected models carry the error."""
    warnings: list[dict[str, str]] = []
    obj = decode_any(body) if isinstance(body, bytes | bytearray) else body
    value, err = decode_leniently(obj, cls, base, warnings)
    if err is not None:
        return Verdict(type=cls.__name__, status="rejected", warnings=warnings, error=err)
    return Verdict(type=cls.__name__, value=value, warnings=warnings)
