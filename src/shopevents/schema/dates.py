"""Lenient ISO 8601: `T` or space, `Z`, `±hh:mm`, `±hhmm` or `±hh`, optional fraction.

`2017-09-29 14:12:37.430Z` and `1980-05-01T00:00:00+0000` are both real. A date without an
offset is read as UTC. The offset the client sent is kept next to the UTC instant.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import msgspec

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


class ParsedDate(msgspec.Struct, frozen=True):
    utc: datetime
    offset_minutes: int | None


def parse_iso8601(text: str) -> ParsedDate | None:
    """The instant in UTC and the offset the client gave, or None if unreadable."""
    m = _ISO.match(text)
    if not m:
        return None
    year, month, day, hh, mm, ss, frac, off = m.groups()
    offset_minutes: int | None = None
    tz = UTC
    if off and off not in ("Z", "z"):
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        hours = int(digits[:2])
        minutes = int(digits[2:4]) if len(digits) > 2 else 0
        if hours > 23 or minutes > 59:
            return None
        offset_minutes = sign * (hours * 60 + minutes)
        tz = timezone(timedelta(minutes=offset_minutes))
    elif off:
        offset_minutes = 0
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro, tz
        )
        utc = local.astimezone(UTC)
    except (ValueError, OverflowError):  # no such day, or out of range once moved to UTC
        return None
    return ParsedDate(utc, offset_minutes)
