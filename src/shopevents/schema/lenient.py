"""The lenient engine: an event, cart or model that the typed decoder refuses (or that holds a
marker the typed decoder would read silently) is normalised field by field (aliases renamed,
numbers, booleans and texts coerced, canonical spellings), then converted, dropping each
malformed optional field with a warning and rejecting only what cannot be used."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import inspect as mi

from shopevents.errors import issue
from shopevents.schema.numbers import Unreadable, find_unreadable, read_text
from shopevents.schema.reasons import (
    is_money_type,
    json_pointer,
    money_hook,
    rejection_of,
    shown,
    split_message,
    struct_info,
    unwrapped_type,
)

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


def normalize(obj: dict[str, Any], cls: type, ptr: str, warnings: list[dict[str, str]]) -> None:
    info = struct_info(cls)
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
        t = unwrapped_type(f.type)
        here = f"{ptr}/{key}"
        if is_money_type(t) or isinstance(t, mi.DecimalType):
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
                            f"The text {shown(value)} was read as the number {shown(num)}",
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
                            f"The text {shown(value)} was read as the number {shown(num)}",
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
                        f'The number {shown(value)} was read as the text "{shown(value)}"',
                    )
                )
            elif isinstance(value, str) and "\x00" in value:
                obj[key] = value.replace("\x00", "")
                warnings.append(
                    issue(
                        "normalized_value",
                        here,
                        f"NUL characters (U+0000) were removed from {shown(value)}",
                    )
                )
        elif isinstance(t, mi.BoolType):
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
                obj[key] = value.strip().lower() in ("true", "1")
                warnings.append(
                    issue("coerced_boolean", here, f"{shown(value)} was read as {shown(obj[key])}")
                )
        elif isinstance(t, mi.LiteralType):
            if isinstance(value, str) and value not in t.values:
                spelled = _canon_literal(value, t.values)
                if spelled is not None:
                    obj[key] = spelled
                    warnings.append(
                        issue("normalized_value", here, f'{shown(value)} was read as "{spelled}"')
                    )
        elif isinstance(t, mi.StructType):
            if isinstance(value, dict):
                normalize(value, t.cls, here, warnings)
        elif isinstance(t, mi.DictType | mi.AnyType):
            drop_unreadable(value, here, warnings)
        elif isinstance(t, mi.ListType):
            item = unwrapped_type(t.item_type)
            if isinstance(item, mi.StructType) and isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, dict):
                        normalize(v, item.cls, f"{here}/{i}", warnings)
            elif isinstance(item, mi.StrType) and isinstance(value, str):
                obj[key] = [value]
                warnings.append(
                    issue(
                        "coerced_text", here, f"The text {shown(value)} was read as a list of one"
                    )
                )
            elif isinstance(item, mi.StrType) and isinstance(value, list):
                for i, v in enumerate(value):
                    if isinstance(v, str) and "\x00" in v:
                        value[i] = v.replace("\x00", "")
                        warnings.append(
                            issue(
                                "normalized_value",
                                f"{here}/{i}",
                                f"NUL characters (U+0000) were removed from {shown(v)}",
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
                "invalid_field",
                json_pointer(segs, ptr),
                f"{bad.reason}; received {bad.show()}; {done}",
            )
        )


def _locate(
    obj: Any, cls: type, segs: list[str | int]
) -> tuple[dict[str, Any] | None, str | None, bool, mi.Type | None]:
    """The deepest struct field on the path: (container, key, required, type)."""
    found: tuple[dict[str, Any] | None, str | None, bool, mi.Type | None] = (None, None, True, None)
    t: mi.Type = struct_info(cls)
    cur: Any = obj
    for seg in segs:
        t = unwrapped_type(t)
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


def decode_leniently(
    obj: Any, cls: type, base: str, warnings: list[dict[str, str]]
) -> tuple[Any, dict[str, str] | None]:
    """(value, None) or (None, rejection) for a decoded-but-untyped object."""
    if not isinstance(obj, dict):
        return None, issue("not_an_object", base, f"Expected an object, got {shown(obj)}")
    normalize(obj, cls, base, warnings)
    for _ in range(100):
        try:
            return msgspec.convert(obj, cls, dec_hook=money_hook, strict=True), None
        except msgspec.ValidationError as exc:
            text, segs = split_message(str(exc))
            missing = text.startswith("Object missing required field")
            if missing:
                name = re.search(r"`([^`]+)`", text)
                ptr = json_pointer([*segs, name.group(1) if name else "?"], base)
                return None, issue("missing_field", ptr, text.replace("Object missing", "Missing"))
            container, key, required, ftype = _locate(obj, cls, segs)
            value = _value_at(obj, segs)
            ptr = json_pointer(segs, base)
            if container is None or key is None or required:
                code, message = rejection_of(text, value, False)
                return None, issue(code, ptr, message)
            bad = container.pop(key)
            is_enum = (
                isinstance(unwrapped_type(ftype), mi.LiteralType) if ftype is not None else False
            )
            field_ptr = json_pointer(segs[: _depth_of(segs, key)], base)
            if is_enum:
                allowed = ", ".join(f'"{v}"' for v in _literal_values(ftype))
                warnings.append(
                    issue(
                        "invalid_enum",
                        field_ptr,
                        f"Expected one of {allowed}; received {shown(bad)}; the field was dropped",
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
                        f"{expected}; received {shown(bad)}; the field was dropped",
                    )
                )
    return None, issue("invalid_value", base, "Too many invalid fields")


def _literal_values(t: mi.Type | None) -> tuple[Any, ...]:
    inner = unwrapped_type(t) if t is not None else None
    return inner.values if isinstance(inner, mi.LiteralType) else ()


def _depth_of(segs: list[str | int], key: str) -> int:
    for i in range(len(segs) - 1, -1, -1):
        if segs[i] == key:
            return i + 1
    return len(segs)
