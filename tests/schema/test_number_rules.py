"""The one reader of JSON numbers: what it reads exactly, what it marks unreadable, and that
a body it reads number by number still fails like msgspec when it is not JSON."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from shopevents.schema.numbers import (
    MAX_INT_DIGITS,
    Unreadable,
    decode_any,
    read_float,
    read_int,
    read_text,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.5", Decimal("1.5")),
        ("-0.0", Decimal("-0.0")),
        ("4.9e-324", Decimal("4.9e-324")),
        ("1e999999", Decimal("1e999999")),
        ("0." + "1" * 5000, Decimal("0." + "1" * 5000)),
    ],
)
def test_readable_decimals_are_exact(text: str, value: Decimal) -> None:
    got = read_float(text)
    assert isinstance(got, Decimal) and got == value and str(got) == str(value)


@pytest.mark.parametrize(
    "text", ["1e1000000", "1e-1000000", "1e9999999999999999999", "-1e9999999999999999999"]
)
def test_exponents_past_the_range_are_unreadable(text: str) -> None:
    got = read_float(text)
    assert isinstance(got, Unreadable) and got.text == text
    assert "exponent" in got.reason
    assert got.negative == text.startswith("-")


def test_integers_past_the_digit_limit_are_unreadable() -> None:
    assert read_int("9" * MAX_INT_DIGITS) == int("9" * MAX_INT_DIGITS)
    got = read_int("-" + "9" * (MAX_INT_DIGITS + 1))
    assert isinstance(got, Unreadable) and got.negative and "digits" in got.reason
    assert len(got.show()) < 60  # messages stay short


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (" 12 ", int),
        ("-0", int),
        ("1.5", Decimal),
        ("1_000", Decimal),
        ("9" * 5000, Unreadable),
        ("1e9999999999999999999", Unreadable),
        ("NaN", type(None)),
        ("Infinity", type(None)),
        ("74,70", type(None)),
        ("", type(None)),
    ],
)
def test_numeric_text(text: str, kind: type) -> None:
    assert isinstance(read_text(text), kind)


def test_decode_any_marks_what_it_cannot_read() -> None:
    body = b'{"a": 1e9999999999999999999, "b": [' + b"9" * 5000 + b', 2.5], "c": 3}'
    got = decode_any(body)
    assert isinstance(got["a"], Unreadable)
    assert isinstance(got["b"][0], Unreadable) and got["b"][1] == Decimal("2.5")
    assert got["c"] == 3
    assert decode_any(b'{"x": 1.25}') == {"x": Decimal("1.25")}


@pytest.mark.parametrize(
    "body",
    [
        b"[1e9999999999999999999, NaN]",
        b"[" + b"9" * 5000 + b",",
        b'[1e9999999999999999999, "\xff"]',
        b"[1e9999999999999999999] x",
    ],
)
def test_decode_any_still_refuses_what_is_not_json(body: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_any(body)


def test_amounts_read_back_never_use_exponent_notation() -> None:
    from shopevents.jsoncodec import dumps
    from shopevents.storage.codec import money_from_db

    assert [str(money_from_db(v)) for v in (690_000_000, 50_000_000, 12_500_000, 1, 0)] == [
        "690",
        "50",
        "12.5",
        "0.000001",
        "0",
    ]
    assert dumps({"a": money_from_db(690_000_000)}) == '{"a":690}'
