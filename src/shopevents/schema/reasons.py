"""What msgspec says, as verdicts: the money hook the typed decoders use, a msgspec validation
message read into a JSON pointer and a (code, message) rejection, and the type
introspection the lenient engine walks. msgspec reports errors only as text, so this is the
one place that reads it."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Any

import msgspec
from msgspec import inspect as mi

from shopevents.schema import models as m
from shopevents.schema.numbers import Unreadable

MAX_AMOUNT = Decimal(10) ** 12


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


_PATH = re.compile(r" - at `\$(.*)`$")
_SEG = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def split_message(message: str) -> tuple[str, list[str | int]]:
    mt = _PATH.search(message)
    if not mt:
        return message, []
    segs: list[str | int] = [(a if a else int(b)) for a, b in _SEG.findall(mt.group(1))]
    return message[: mt.start()], segs


def json_pointer(segs: list[str | int], base: str = "") -> str:
    out = base
    for s in segs:
        out += "/" + str(s).replace("~", "~0").replace("/", "~1")
    return out


def located(exc: msgspec.ValidationError) -> tuple[str, str]:
    """(JSON pointer, message) of a msgspec validation error: `/rates/0/rate`, "Expected
    `float` > 0.0"."""
    message, segs = split_message(str(exc))
    return json_pointer(segs), message


def shown(value: Any) -> str:
    if isinstance(value, Unreadable):
        return value.show()
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        text = str(value)
        return text if len(text) <= 40 else f"{text[:24]}...{text[-8:]} ({len(text)} characters)"
    text = msgspec.json.encode(value).decode() if value is not None else "null"
    return text if len(text) <= 60 else text[:57] + "..."


def rejection_of(text: str, value: Any, missing: bool) -> tuple[str, str]:
    """(code, message) for a msgspec validation message about a required field."""
    if missing:
        return "missing_field", text.replace("Object missing", "Missing")
    got = f"; received {shown(value)}"
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
def struct_info(cls: type) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


def unwrapped_type(t: mi.Type) -> mi.Type:
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


def is_money_type(t: mi.Type) -> bool:
    return isinstance(t, mi.CustomType) and t.cls is m.Money
