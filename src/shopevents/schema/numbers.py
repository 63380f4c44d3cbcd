"""Reading JSON numbers: the one place a number literal (or numeric text) becomes a Python
value, for the ingest endpoint and the REST API alike.

A number is read when Python can hold it exactly and cheaply: an integer of at most
`MAX_INT_DIGITS` digits (Python's own limit for text conversion) or a decimal whose exponent
is from `-MAX_EXPONENT` to `MAX_EXPONENT` (the `decimal` module's default range). Any other
literal (`1e9999999999999999999`, a 5,000-digit integer) is not an error of the whole body:
it becomes an `Unreadable` marker holding its text, and the verdicts judge it where it
stands (a required field is rejected, an optional one dropped with a warning)."""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from shopevents.jsoncodec import loads_with_hooks

MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300
"""Longest integer read, in digits."""
MAX_EXPONENT = 999_999
"""Largest exponent (as `Decimal.adjusted()`, either sign) of a decimal read."""


class Unreadable:
    """A JSON number that cannot be read; `text` is its literal as sent."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @property
    def negative(self) -> bool:
        return self.text.lstrip().startswith("-")

    @property
    def reason(self) -> str:
        if "." in self.text or "e" in self.text.lower():
            return f"Expected a number with an exponent from -{MAX_EXPONENT} to {MAX_EXPONENT}"
        return f"Expected a number of at most {MAX_INT_DIGITS} digits"

    def show(self) -> str:
        t = self.text.strip()
        return t if len(t) <= 40 else f"{t[:24]}...{t[-8:]} ({len(t)} characters)"

    def __repr__(self) -> str:
        return self.show()

    __str__ = __repr__


def read_float(text: str) -> Decimal | Unreadable:
    """A JSON literal with a fraction or an exponent, as an exact Decimal."""
    try:
        dec = Decimal(text)
    except InvalidOperation:  # an exponent past what Decimal holds
        return Unreadable(text)
    if not dec.is_finite() or (dec and not -MAX_EXPONENT <= dec.adjusted() <= MAX_EXPONENT):
        return Unreadable(text)
    return dec


def read_int(text: str) -> int | Unreadable:
    digits = len(text) - (text[:1] in "+-")
    return Unreadable(text) if digits > MAX_INT_DIGITS else int(text)


def read_text(text: str) -> int | Decimal | Unreadable | None:
    """Numeric text (the tag mode sends numbers as text): None if it is not a number."""
    t = text.strip()
    if not t or t.lower().lstrip("+-") in ("nan", "snan", "inf", "infinity"):
        return None
    body = t[1:] if t[0] in "+-" else t
    if body.isascii() and body.isdigit():
        return read_int(t)
    try:
        Decimal(t)
    except InvalidOperation:
        if all(c in "0123456789+-.eE" for c in t) and "e" in t.lower():
            return Unreadable(t)  # a number, but its exponent is past what Decimal holds
        return None
    return read_float(t)


def strict_float_hook(text: str) -> Decimal:
    """`float_hook` for msgspec decoders: a number that cannot be read fails the decode (as a
    `ValidationError`), and the caller reads the body again with `decode_any`."""
    value = read_float(text)
    if isinstance(value, Unreadable):
        raise ValueError(value.reason)
    return value


_fast = msgspec.json.Decoder(float_hook=strict_float_hook)


def _constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def decode_any(data: bytes | bytearray | memoryview) -> Any:
    """Any JSON value, numbers exact (Decimal) and `Unreadable` where they cannot be read.
    Raises `msgspec.DecodeError` for what is not JSON (and RecursionError for nesting
    too deep), as msgspec does."""
    try:
        return _fast.decode(data)
    except msgspec.ValidationError:  # a number out of range: read it again, number by number
        pass
    return loads_with_hooks(
        data, parse_float=read_float, parse_int=read_int, parse_constant=_constant
    )


def find_unreadable(value: Any, path: list[str | int]) -> list[tuple[list[str | int], Unreadable]]:
    """Every `Unreadable` in a decoded value, with its path."""
    out: list[tuple[list[str | int], Unreadable]] = []
    stack: list[tuple[Any, list[str | int]]] = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, Unreadable):
            out.append((p, v))
        elif isinstance(v, dict):
            stack.extend((x, [*p, k]) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, [*p, i]) for i, x in enumerate(v))
    return out


def has_unreadable(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Unreadable):
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False
