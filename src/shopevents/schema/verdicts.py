"""Decoding with verdicts: every event is decoded on its own; a clean event takes the typed
msgspec fast path, anything else goes through the lenient path, which coerces what it can
(with a warning for each change), drops malformed optional fields (with a warning) and
rejects only what cannot be used. msgspec errors become verdicts in `_rejection` only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import inspect as mi

from shopevents.errors import ApiError, issue
from shopevents.schema import models as m
from shopevents.schema.currencies import ISO_4217
from shopevents.schema.dates import ParsedDate, parse_iso8601
from shopevents.schema.numbers import (
    Unreadable,
    decode_any,
    find_unreadable,
    read_text,
    strict_float_hook,
)

MAX_AMOUNT = Decimal(10) ** 12
CENT = Decimal("0.01")


def money_hook(t: type, obj: Any) -> Any:
    if t is m.Money:
        kind = type(obj)
        if (kind is Decimal or kind is int) and 0 <= obj < MAX_AMOUNT:  # the common case
            return m.Money(obj)
        if isinstance(obj, Unreadable):
            if obj.negative:
                raise ValueError("Expected a non-negative amount")
            raise ValueError(f"Expected an amount below 1e12 ({obj.reason.lower()})")
        if isinstance(obj, bool) or not isinstance(obj, int | Decimal):
            raise TypeError(f"Expected `number`, got `{type(obj).__name__}`")
        if obj < 0:
            raise ValueError("Expected a non-negative amount")
        if obj >= MAX_AMOUNT:
            raise ValueError("Expected an amount below 1e12")
        return m.Money(obj)
    raise NotImplementedError


_event_decoder = msgspec.json.Decoder(m.AnyEvent, dec_hook=money_hook, float_hook=strict_float_hook)
_envelope_decoder = msgspec.json.Decoder(m.Envelope)


# --- verdict records -------------------------------------------------------------------


class Verdict(msgspec.Struct, kw_only=True):
    """What became of one decoded part (an event, the cart, entityInfo)."""

    index: int = -1
    type: str = ""
    status: str = "accepted"  # accepted | rejected (ledger turns purchases into duplicate/conflict)
    warnings: list[dict[str, str]] = []
    value: Any = None
    error: dict[str, str] | None = None
    raw: bytes = b""

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "type": self.type, "status": self.status}
        if self.error:
            out.update(self.error)
        out["warnings"] = self.warnings
        return out


class CheckContext(msgspec.Struct, kw_only=True):
    now: datetime
    currency: str = "EUR"
    domains: list[str] = []


class EntityInfo(msgspec.Struct, kw_only=True):
    fields: m.EntityFields
    custom: dict[str, Any]
    birthdate: ParsedDate | None = None


# --- the envelope ----------------------------------------------------------------------


def _line_col(body: bytes, offset: int) -> tuple[int, int]:
    head = body[:offset]
    line = head.count(b"\n") + 1
    col = offset - (head.rfind(b"\n") + 1) + 1
    return line, col


def read_envelope(body: bytes) -> m.Envelope:
    """The envelope, or ApiError `invalid_json` (with line and column) / `invalid_envelope`."""
    try:
        body.decode("utf-8")  # the envelope decoder skips nested parts without checking
    except UnicodeDecodeError as exc:
        line, col = _line_col(body, exc.start)
        message = f"The body is not valid JSON: it is not UTF-8 at line {line}, column {col}"
        raise ApiError(
            "invalid_json",
            message,
            errors=[
                {
                    "code": "invalid_json",
                    "path": "",
                    "message": message,
                    "line": line,
                    "column": col,
                }
            ],
        ) from None
    try:
        envelope = _envelope_decoder.decode(body)
        if envelope.requestId == "":  # an empty key is no key (never a shared one)
            envelope.requestId = None
        return envelope
    except RecursionError:
        message = "The body is not valid JSON: it is nested too deeply"
        raise ApiError(
            "invalid_json",
            message,
            errors=[{"code": "invalid_json", "path": "", "message": message}],
        ) from None
    except msgspec.ValidationError as exc:
        text, path = _split(str(exc))
        if "matching regex" in text:  # requestId's pattern
            text = "Expected a text without NUL (U+0000) characters"
        pointer = _pointer(path)
        raise ApiError(
            "invalid_envelope",
            f"The body is JSON but not an ingest envelope: {text} at {pointer or '/'}",
            errors=[{"code": "invalid_envelope", "path": pointer, "message": text}],
        ) from None
    except msgspec.DecodeError as exc:
        text = str(exc)
        m_byte = re.search(r"\(byte (\d+)\)", text)
        reason = re.sub(r"^JSON is malformed: ", "", text)
        reason = re.sub(r"\s*\(byte \d+\)", "", reason)
        if m_byte:
            offset = int(m_byte.group(1))
            line, col = _line_col(body, offset)
            message = f"The body is not valid JSON: {reason} at line {line}, column {col}"
            prev = len(body[:offset].rstrip())
            if "','" in reason and prev > 0:
                pline, pcol = _line_col(body, prev)
                line_start = body.rfind(b"\n", 0, prev) + 1
                tail = body[line_start:prev].decode("utf-8", "replace").strip()[-40:]
                message += (
                    f" (a comma is probably missing at line {pline}, column {pcol}, after {tail})"
                )
            errors = [
                {
                    "code": "invalid_json",
                    "path": "",
                    "message": message,
                    "line": line,
                    "column": col,
                }
            ]
        else:
            message = f"The body is not valid JSON: {reason}"
            errors = [{"code": "invalid_json", "path": "", "message": message}]
        raise ApiError("invalid_json", message, errors=errors) from None


# --- msgspec errors to verdicts ------------------------------------------------------

_PATH = re.compile(r" - at `\$(.*)`$")
_SEG = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _split(message: str) -> tuple[str, list[str | int]]:
    mt = _PATH.search(message)
    if not mt:
        return message, []
    segs: list[str | int] = [(a if a else int(b)) for a, b in _SEG.findall(mt.group(1))]
    return message[: mt.start()], segs


def _pointer(segs: list[str | int], base: str = "") -> str:
    out = base
    for s in segs:
        out += "/" + str(s).replace("~", "~0").replace("/", "~1")
    return out


def _show(value: Any) -> str:
    if isinstance(value, Unreadable):
        return value.show()
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        text = str(value)
        return text if len(text) <= 40 else f"{text[:24]}...{text[-8:]} ({len(text)} characters)"
    text = msgspec.json.encode(value).decode() if value is not None else "null"
    return text if len(text) <= 60 else text[:57] + "..."


def _rejection(text: str, value: Any, missing: bool) -> tuple[str, str]:
    """(code, message) for a msgspec validation message about a required field."""
    if missing:
        return "missing_field", text.replace("Object missing", "Missing")
    got = f"; received {_show(value)}"
    if isinstance(value, Unreadable):
        if value.negative and "amount" in text:
            return "negative_value", f"Expected a non-negative value{got}"
        return "invalid_value", f"{value.reason}{got}"
    if "non-negative" in text or ">= 0" in text:
        return "negative_value", f"Expected a non-negative value{got}"
    if text.startswith("Expected `int`") and isinstance(value, Decimal | float):
        return "not_whole_number", f"Expected a whole number{got}"
    if "length >= 1" in text or ("matching regex" in text and "\\S" in text):  # blank
        return "empty_value", f"Expected a non-empty text{got}"
    if text.startswith("Expected `object`"):
        return "not_an_object", text + got
    if text.startswith("Invalid") or "<=" in text or "below" in text:
        return "invalid_value", text + got
    return "invalid_type", text + got


# --- type introspection -----------------------------------------------------------------


@cache
def _info(cls: type) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


def _unwrap(t: mi.Type) -> mi.Type:
    """The type under `| None` and under documentation-only metadata."""
    if isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.UnionType):
        rest = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(rest) == 1:
            t = rest[0]
    if isinstance(t, mi.Metadata):
        t = t.type
    return t


def _is_money(t: mi.Type) -> bool:
    return isinstance(t, mi.CustomType) and t.cls is m.Money


ALIASES = {
    "sourceType": "source_type",
    "sourceName": "source_name",
    "CartRecoveryUrl": "cartRecoveryUrl",
    "cart_id": "cartId",
    "purchase_id": "purchaseId",
}
NEVER_DROP = {"products"}
# Raw markers that send an event to the lenient path even when it decodes cleanly: the
# typed decoder would silently ignore an alias (`sourceType`) and keep a NUL in a text.
_LENIENT_MARKERS = (*(f'"{a}"'.encode() for a in ALIASES), b"\\u0000")


def needs_lenient(raw: bytes) -> bool:
    """Whether any marker is in the bytes (`in` is a fast search: a regex alternation over the
    same markers is 4× slower)."""
    return any(mk in raw for mk in _LENIENT_MARKERS)


def _canon_literal(value: str, allowed: tuple[Any, ...]) -> str | None:
    squashed = re.sub(r"[\s_\-.]", "", value).lower()
    for a in allowed:
        if isinstance(a, str) and re.sub(r"[\s_\-.]", "", a).lower() == squashed:
            return a
    return None


def _normalize(obj: dict[str, Any], cls: type, ptr: str, warnings: list[dict[str, str]]) -> None:
    info = _info(cls)
    names = {f.encode_name for f in info.fields}
    for alias, canon in ALIASES.items():
        if alias in obj and canon in names and canon not in obj:
            obj[canon] = obj.pop(alias)
            warnings.append(
                issue("renamed_field", f"{ptr}/{alias}", f"`{alias}` was read as `{canon}`")
            )
    for f in info.fields:
        key = f.encode_name
        if key not in obj or obj[key] is None:
            continue
        value = obj[key]
        t = _unwrap(f.type)
        here = f"{ptr}/{key}"
        if _is_money(t) or isinstance(t, mi.DecimalType):
            if isinstance(value, str):
                num = read_text(value)
                if num is None:
                    continue
                obj[key] = num  # an Unreadable one is judged as the number it spells
                if not isinstance(num, Unreadable):
                    num = Decimal(num)
                    obj[key] = num
                    warnings.append(
                        issue(
                            "coerced_number",
                            here,
                            f"The text {_show(value)} was read as the number {_show(num)}",
                        )
                    )
        elif isinstance(t, mi.IntType):
            if isinstance(value, str):
                num = read_text(value)
                if num is None:
                    continue
                if (
                    isinstance(num, Decimal)
                    and num == num.to_integral_value()
                    and abs(num) < 10**15
                ):
                    num = int(num)
                obj[key] = num  # "1.5": judged as the number it spells (not a whole number)
                if isinstance(num, int):
                    warnings.append(
                        issue(
                            "coerced_number",
                            here,
                            f"The text {_show(value)} was read as the number {_show(num)}",
                        )
                    )
            elif (
                isinstance(value, Decimal)
                and value.is_finite()
                and value == value.to_integral_value()
                and "." in str(value)
                and abs(value) < 10**15
            ):
                obj[key] = int(value)
                warnings.append(
                    issue(
                        "coerced_number", here, f"{value} was read as the whole number {int(value)}"
                    )
                )
        elif isinstance(t, mi.StrType):
            if isinstance(value, Unreadable):
                obj[key] = value.text
                warnings.append(
                    issue(
                        "coerced_text",
                        here,
                        f'The number {value.show()} was read as the text "{value.show()}"',
                    )
                )
            elif isinstance(value, int | Decimal) and not isinstance(value, bool):
                obj[key] = str(value)
                warnings.append(
                    issue(
                        "coerced_text",
                        here,
                        f'The number {_show(value)} was read as the text "{_show(value)}"',
                    )
                )
            elif isinstance(value, str) and "\x00" in value:
                obj[key] = value.replace("\x00", "")
                warnings.append(
                    issue(
                        "normalized_value",
                        here,
                        f"NUL characters (U+0000) were removed from {_show(value)}",
                    )
                )
        elif isinstance(t, mi.BoolType):
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
                obj[key] = value.strip().lower() in ("true", "1")
                warnings.append(
                    issue("coerced_boolean", here, f"{_show(value)} was read as {_show(obj[key])}")
                )
        elif isinstance(t, mi.LiteralType):
            if isinstance(value, str) and value not in t.values:
                spelled = _canon_literal(value, t.values)
                if spelled is not None:
                    obj[key] = spelled
                    warnings.append(
                        issue("normalized_value", here, f'{_show(value)} was read as "{spelled}"')
                    )
        elif isinstance(t, mi.StructType):
            if isinstance(value, dict):
                _normalize(value, t.cls, here, warnings)
        elif isinstance(t, mi.DictType | mi.AnyType):
            drop_unreadable(value, here, warnings)
        elif isinstance(t, mi.ListType):
            item = _unwrap(t.item_type)
            if isinstance(item, mi.StructType) and isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, dict):
                        _normalize(v, item.cls, f"{here}/{i}", warnings)
            elif isinstance(item, mi.StrType) and isinstance(value, str):
                obj[key] = [value]
                warnings.append(
                    issue(
                        "coerced_text", here, f"The text {_show(value)} was read as a list of one"
                    )
                )


def drop_unreadable(value: Any, ptr: str, warnings: list[dict[str, str]]) -> None:
    """Numbers that cannot be read, inside a free-form value (a custom event's payload, a
    custom contact field): dropped from an object, null in a list, each with a warning."""
    for segs, bad in find_unreadable(value, []):
        *parent_path, last = segs
        parent = _value_at(value, parent_path)
        if isinstance(parent, dict):
            parent.pop(last, None)
            done = "the field was dropped"
        else:
            parent[last] = None
            done = "null was kept in its place"
        warnings.append(
            issue(
                "invalid_field", _pointer(segs, ptr), f"{bad.reason}; received {bad.show()}; {done}"
            )
        )


def _locate(
    obj: Any, cls: type, segs: list[str | int]
) -> tuple[dict[str, Any] | None, str | None, bool, mi.Type | None]:
    """The deepest struct field on the path: (container, key, required, type)."""
    found: tuple[dict[str, Any] | None, str | None, bool, mi.Type | None] = (None, None, True, None)
    t: mi.Type = _info(cls)
    cur: Any = obj
    for seg in segs:
        t = _unwrap(t)
        if isinstance(t, mi.StructType) and isinstance(seg, str) and isinstance(cur, dict):
            fld = next((f for f in t.fields if f.encode_name == seg), None)
            if fld is None:
                break
            found = (cur, seg, fld.required or seg in NEVER_DROP, fld.type)
            t = fld.type
            cur = cur.get(seg)
        elif isinstance(t, mi.ListType) and isinstance(seg, int) and isinstance(cur, list):
            t = t.item_type
            cur = cur[seg] if seg < len(cur) else None
        elif isinstance(t, mi.DictType):
            t = t.value_type
            cur = cur.get(seg) if isinstance(cur, dict) else None
        else:
            break
    return found


def _value_at(obj: Any, segs: list[str | int]) -> Any:
    cur = obj
    for s in segs:
        try:
            cur = cur[s]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _lenient(
    obj: Any, cls: type, base: str, warnings: list[dict[str, str]]
) -> tuple[Any, dict[str, str] | None]:
    """(value, None) or (None, rejection) for a decoded-but-untyped object."""
    if not isinstance(obj, dict):
        return None, issue("not_an_object", base, f"Expected an object, got {_show(obj)}")
    _normalize(obj, cls, base, warnings)
    for _ in range(100):
        try:
            return msgspec.convert(obj, cls, dec_hook=money_hook, strict=True), None
        except msgspec.ValidationError as exc:
            text, segs = _split(str(exc))
            missing = text.startswith("Object missing required field")
            if missing:
                name = re.search(r"`([^`]+)`", text)
                ptr = _pointer([*segs, name.group(1) if name else "?"], base)
                return None, issue("missing_field", ptr, text.replace("Object missing", "Missing"))
            container, key, required, ftype = _locate(obj, cls, segs)
            value = _value_at(obj, segs)
            ptr = _pointer(segs, base)
            if container is None or key is None or required:
                code, message = _rejection(text, value, False)
                return None, issue(code, ptr, message)
            bad = container.pop(key)
            is_enum = isinstance(_unwrap(ftype), mi.LiteralType) if ftype is not None else False
            field_ptr = _pointer(segs[: _depth_of(segs, key)], base)
            if is_enum:
                allowed = ", ".join(f'"{v}"' for v in _literal_values(ftype))
                warnings.append(
                    issue(
                        "invalid_enum",
                        field_ptr,
                        f"Expected one of {allowed}; received {_show(bad)}; the field was dropped",
                    )
                )
            else:
                expected = (
                    bad.reason if isinstance(bad, Unreadable) else text.replace(" | null", "")
                )
                warnings.append(
                    issue(
                        "invalid_field",
                        field_ptr,
                        f"{expected}; received {_show(bad)}; the field was dropped",
                    )
                )
    return None, issue("invalid_value", base, "Too many invalid fields")


def _literal_values(t: mi.Type | None) -> tuple[Any, ...]:
    inner = _unwrap(t) if t is not None else None
    return inner.values if isinstance(inner, mi.LiteralType) else ()


def _depth_of(segs: list[str | int], key: str) -> int:
    for i in range(len(segs) - 1, -1, -1):
        if segs[i] == key:
            return i + 1
    return len(segs)


# --- checks after decoding --------------------------------------------------------------


def _scheme_host_lower(url: str) -> tuple[str, bool]:
    """The URL with its scheme and host lowercased, and whether it has more than an
    origin (a path, query or fragment)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, False
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return f"{scheme.lower()}://{rest[:cut].lower()}{rest[cut:]}", cut < len(rest)


def _prefix_allows(url: str, prefix: str) -> bool:
    """Connectif's rule for a URL-prefix domain: the address starts with it. An origin
    (no path: the `Origin` header) is allowed when some page of it would be."""
    address, has_path = _scheme_host_lower(url)
    p, _ = _scheme_host_lower(prefix)
    if has_path:
        return address.startswith(p)
    return address.startswith(p) or p == address or p.startswith(address + "/")


def domain_allowed(url: str, domains: list[str]) -> bool:
    """True if the URL is under one of the store's authorised domains (no domains: any).
    A host-name entry (`shop.example`) allows that host and its subdomains, whatever the
    scheme, port and path; a URL-prefix entry (`https://shop.example/es/`, Connectif's form)
    allows the addresses that start with it."""
    if not domains:
        return True
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    for d in domains:
        if "//" in d:
            if _prefix_allows(url, d):
                return True
            continue
        dhost = d.split("/")[0].lower().lstrip("*").lstrip(".")
        dhost = dhost if dhost.startswith("[") else dhost.split(":")[0]
        if host == dhost.strip("[]") or host.endswith("." + dhost):
            return True
    return False


def _check_product(p: m.Product, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> None:
    if not domain_allowed(p.productDetailUrl, ctx.domains):
        w.append(
            issue(
                "url_not_authorized",
                f"{ptr}/productDetailUrl",
                f"{_show(p.productDetailUrl)} is outside the store's authorised domains",
            )
        )
    if p.rating is not None and p.rating > 5:
        w.append(
            issue(
                "invalid_field",
                f"{ptr}/rating",
                f"Expected a rating from 0 to 5; received {p.rating}; the field was dropped",
            )
        )
        p.rating = None
    if p.discountedPercentage is not None and p.discountedPercentage > 100:
        w.append(
            issue(
                "invalid_field",
                f"{ptr}/discountedPercentage",
                f"Expected a percentage from 0 to 100; received {p.discountedPercentage}; the field was dropped",
            )
        )
        p.discountedPercentage = None
    if p.publishedAt is not None and parse_iso8601(p.publishedAt) is None:
        w.append(
            issue(
                "invalid_date",
                f"{ptr}/publishedAt",
                f"Expected an ISO 8601 date; received {_show(p.publishedAt)}; the field was dropped",
            )
        )
        p.publishedAt = None
    for name in ("unitPrice", "unitPriceOriginal", "unitPriceWithoutVAT", "discountedAmount"):
        _round(p, name, ptr, w)


_MILLIONTH = Decimal("0.000001")


def _round(obj: Any, name: str, ptr: str, w: list[dict[str, str]]) -> None:
    v = getattr(obj, name)
    if v is not None and v.quantize(_MILLIONTH) != v:
        r = m.Money(v.quantize(_MILLIONTH))
        setattr(obj, name, r)
        w.append(issue("rounded_amount", f"{ptr}/{name}", f"{_show(v)} was rounded to {r}"))


def _check_lines(
    lines: list[m.BasketItem], total_q: int, ptr: str, ctx: CheckContext, w: list[dict[str, str]]
) -> None:
    total = 0
    for i, line in enumerate(lines):
        lp = f"{ptr}/products/{i}"
        _check_product(line, lp, ctx, w)
        _round(line, "price", lp, w)
        total += line.quantity
        expected = line.unitPrice * line.quantity
        if abs(expected - line.price) > CENT:
            w.append(
                issue(
                    "price_mismatch",
                    f"{lp}/price",
                    f"price {line.price} differs from quantity × unitPrice = {expected}",
                )
            )
    if lines and total != total_q:
        w.append(
            issue(
                "quantity_mismatch",
                f"{ptr}/totalQuantity",
                f"totalQuantity {total_q} differs from the sum of the lines' quantities, {total}",
            )
        )


def check_currency(holder: Any, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> None:
    cur = holder.currency
    if cur is None:
        return
    up = cur.strip().upper()
    if up not in ISO_4217:
        w.append(
            issue(
                "invalid_currency",
                f"{ptr}/currency",
                f"Expected an ISO 4217 code; received {_show(cur)}; the store's currency {ctx.currency} is used",
            )
        )
        holder.currency = None
    elif up != cur:
        w.append(issue("normalized_value", f"{ptr}/currency", f'{_show(cur)} was read as "{up}"'))
        holder.currency = up


def check_purchase(
    p: m.Purchase, ptr: str, ctx: CheckContext, w: list[dict[str, str]]
) -> ParsedDate | None:
    parsed = None
    if p.purchaseDate is not None:
        parsed = parse_iso8601(p.purchaseDate)
        if parsed is None:
            w.append(
                issue(
                    "invalid_date",
                    f"{ptr}/purchaseDate",
                    f"Expected an ISO 8601 date; received {_show(p.purchaseDate)}; the received time is used",
                )
            )
            p.purchaseDate = None
        elif parsed.utc > ctx.now + timedelta(days=1):
            w.append(
                issue(
                    "future_date",
                    f"{ptr}/purchaseDate",
                    f"{p.purchaseDate} is more than a day in the future",
                )
            )
    if not p.products:
        w.append(issue("empty_products", f"{ptr}/products", "The purchase has no product lines"))
    _round(p, "totalPrice", ptr, w)
    _check_lines(p.products, p.totalQuantity, ptr, ctx, w)
    check_currency(p, ptr, ctx, w)
    return parsed


def check_cart(c: m.Cart, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> None:
    _round(c, "totalPrice", ptr, w)
    _check_lines(c.products, c.totalQuantity, ptr, ctx, w)
    check_currency(c, ptr, ctx, w)


def _post_check(ev: m.Event, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> Any:
    if isinstance(ev, m.PurchaseEvent):
        return check_purchase(ev.purchase, f"{ptr}/purchase", ctx, w)
    if isinstance(ev, m.ProductVisited | m.ProductSearched):
        _check_product(ev.product, f"{ptr}/product", ctx, w)
    if isinstance(ev, m.NewsletterSubscribe) and ev.email is not None:
        return identifying_email(ev.email, f"{ptr}/email", w)
    if isinstance(ev, m.FormSubmitted) and ev.primaryKeyField:
        key = ev.primaryKeyField
        here = _pointer([key], f"{ptr}/payload")
        if key not in ev.payload:
            w.append(
                issue(
                    "invalid_email",
                    here,
                    f"`payload` has no field {_show(key)} (the primaryKeyField); the form is "
                    "recorded on the visitor's contact",
                )
            )
            return None
        return identifying_email(ev.payload[key], here, w)
    return None


def identifying_email(value: Any, path: str, w: list[dict[str, str]]) -> str | None:
    """The e-mail an event names (a newsletter's `email`, a form's primary key field),
    trimmed and lowercased as `primaryKey` is; otherwise None with an `invalid_email`
    warning (the event is then recorded on the visitor's contact)."""
    if isinstance(value, str):
        pk = value.strip()
        if _EMAIL.match(pk) and len(pk) <= 254:
            return pk.lower()
    w.append(
        issue(
            "invalid_email",
            path,
            f"Expected an e-mail address; received {_show(value)}; the event is recorded on "
            "the visitor's contact",
        )
    )
    return None


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
                    "not_an_object", ptr, f"Expected an event object; received {_show(obj)}"
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
                    f"Expected one of {allowed}; received {_show(etype)}",
                ),
            )
        ev, err = _lenient(obj, cls, ptr, warnings)
        if err is not None:
            return Verdict(
                index=index,
                type=str(etype),
                status="rejected",
                raw=raw,
                warnings=warnings,
                error=err,
            )
    extra = _post_check(ev, ptr, ctx, warnings)
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
    cart, err = _lenient(obj, m.Cart, "/cart", warnings)
    if err is not None:
        return Verdict(type="cart", status="rejected", raw=raw, warnings=warnings, error=err)
    check_cart(cart, "/cart", ctx, warnings)
    return Verdict(type="cart", value=cart, raw=raw, warnings=warnings)


_EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
_KNOWN = {f.encode_name for f in _info(m.EntityFields).fields}


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
            error=issue("not_an_object", base, f"Expected an object; received {_show(obj)}"),
        )
    custom = {k: v for k, v in obj.items() if k not in _KNOWN}
    known = {k: v for k, v in obj.items() if k in _KNOWN}
    drop_unreadable(custom, base, warnings)
    fields = None
    if not decoded and not needs_lenient(raw):
        try:  # the typed fast path: what it takes, `_normalize` would leave as it is
            fields = msgspec.convert(known, m.EntityFields, strict=True)
        except msgspec.ValidationError:
            pass
    err = None
    if fields is None:
        fields, err = _lenient(known, m.EntityFields, base, warnings)
    if err is not None:  # every known field is optional, so this cannot normally happen
        return Verdict(type="entityInfo", status="rejected", raw=raw, warnings=warnings, error=err)
    if fields.primaryKey is not None:
        pk = fields.primaryKey.strip()
        if not _EMAIL.match(pk) or len(pk) > 254:
            warnings.append(
                issue(
                    "invalid_email",
                    f"{base}/primaryKey",
                    f"Expected an e-mail address; received {_show(fields.primaryKey)}",
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
                    f"Expected an ISO 8601 date; received {_show(fields.birthdate)}; the field was dropped",
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
    value, err = _lenient(obj, cls, base, warnings)
    if err is not None:
        return Verdict(type=cls.__name__, status="rejected", warnings=warnings, error=err)
    return Verdict(type=cls.__name__, value=value, warnings=warnings)
