"""Lenient ISO 8601 (product.md §3 rule 4): `T` or space, `Z`, `±hh:mm`, `±hhmm` or `±hh`,
optional fraction; stored in UTC with the offset the client sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopevents.schema.dates import parse_iso8601


@pytest.mark.parametrize(
    ("text", "utc", "offset"),
    [
        ("2017-09-29 14:12:37.430Z", datetime(2017, 9, 29, 14, 12, 37, 430000, UTC), 0),
        ("1980-05-01T00:00:00+0000", datetime(1980, 5, 1, tzinfo=UTC), 0),
        ("2024-09-13T10:49:31Z", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), 0),
        ("2020-06-26T12:52:51.591Z", datetime(2020, 6, 26, 12, 52, 51, 591000, UTC), 0),
        ("2024-09-13T12:49:31+02:00", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), 120),
        ("2024-09-13T12:49:31+0200", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), 120),
        ("2024-09-13T12:49:31+02", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), 120),
        ("2024-09-13T05:19:31-05:30", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), -330),
        ("2024-09-13T10:49:31", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), None),
        ("2024-09-13", datetime(2024, 9, 13, tzinfo=UTC), None),
        ("2024-09-13T10:49", datetime(2024, 9, 13, 10, 49, tzinfo=UTC), None),
        ("2024-09-13t10:49:31z", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), 0),
        ("2024-09-13T10:49:31,5Z", datetime(2024, 9, 13, 10, 49, 31, 500000, UTC), 0),
        ("2024-09-13T10:49:31.123456789Z", datetime(2024, 9, 13, 10, 49, 31, 123456, UTC), 0),
        ("  2024-09-13T10:49:31Z  ", datetime(2024, 9, 13, 10, 49, 31, tzinfo=UTC), 0),
        ("2024-01-01T00:30:00+01:00", datetime(2023, 12, 31, 23, 30, tzinfo=UTC), 60),
    ],
)
def test_lenient_forms(text: str, utc: datetime, offset: int | None) -> None:
    parsed = parse_iso8601(text)
    assert parsed is not None, text
    assert parsed.utc == utc
    assert parsed.utc.tzinfo == UTC
    assert parsed.offset_minutes == offset


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "26/06/2020",
        "2020-06-26 12:52:51 CEST",
        "2024-02-30T00:00:00Z",  # no such day
        "2023-02-29",
        "2024-13-01",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:60Z",  # leap seconds are not read
        "2024-01-01T10:00:00+24:00",
        "2024-01-01T10:00:00+01:60",
        "2024-01-01T10:00:00+1",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
        "20240913T104931Z",
        "2024-9-13",
        "2024-09-13T10:49:31.Z",
    ],
)
def test_unreadable(text: str) -> None:
    assert parse_iso8601(text) is None


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.timezones()), st.sampled_from(["T", " "]), st.booleans())
def test_roundtrip_of_any_instant(dt: datetime, sep: str, colon: bool) -> None:
    off = dt.utcoffset()
    assert off is not None
    if off.seconds % 60 or not (-24 * 3600 < off.total_seconds() < 24 * 3600):
        return  # ISO 8601 offsets are whole minutes
    text = dt.isoformat(sep=sep)
    if not colon and text[-6] in "+-" and text[-3] == ":":
        text = text[:-3] + text[-2:]
    try:
        expected = dt.astimezone(UTC)
    except OverflowError:
        assert parse_iso8601(text) is None
        return
    parsed = parse_iso8601(text)
    assert parsed is not None, text
    assert parsed.utc == expected
    assert parsed.offset_minutes == int(off.total_seconds() // 60)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_never_raises(text: str) -> None:
    parse_iso8601(text)
