"""Report ranges and buckets in the store's time zone, correct across DST changes.

SQL only ever groups by 15-minute UTC slots (`instant_us // SLOT_US`); every slot is then
placed in its local day or hour here, with zoneinfo. Every UTC offset in use is a multiple
of 15 minutes, so a slot never straddles a local midnight or a local hour: the fold is exact
for every zone, including those at +05:30 or +05:45 and on the days clocks change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from shopevents.clock import EPOCH, to_micros
from shopevents.errors import FieldError
from shopevents.storage.report_facts import SLOT_US as SLOT_US

INTERVALS = ("hour", "day", "week", "month")
MAX_DAYS = 3700
# The days a report can cover: its buckets (weeks, months) and the UTC instants of their
# local midnights stay within what dates and times can hold.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:
        return ZoneInfo("UTC")


def local_midnight_us(day: date, tz: ZoneInfo) -> int:
    """The instant local midnight begins on `day` (the first instant of the local day)."""
    naive = datetime(day.year, day.month, day.day)
    aware = naive.replace(tzinfo=tz)
    # A midnight that does not exist (a DST gap at 00:00): the day starts when it resumes.
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        aware = naive.replace(tzinfo=tz, fold=1)
    return to_micros(aware.astimezone(UTC))


def bucket_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def next_bucket(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


@dataclass
class Range:
    """Local days `first`..`last` (inclusive) in zone `tz`; `start_us`..`end_us` in UTC."""

    tz_name: str
    first: date
    last: date
    interval: str = "day"
    tz: ZoneInfo = field(init=False)
    start_us: int = field(init=False)
    end_us: int = field(init=False)
    _slot_day: dict[int, int] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.tz = zone(self.tz_name)
        self.start_us = local_midnight_us(self.first, self.tz)
        self.end_us = local_midnight_us(self.last + timedelta(days=1), self.tz)

    @property
    def first_ord(self) -> int:
        return self.first.toordinal()

    @property
    def last_ord(self) -> int:
        return self.last.toordinal()

    @property
    def days(self) -> int:
        return self.last_ord - self.first_ord + 1

    def slot_day(self, slot: int) -> int:
        """The local day (ordinal) a 15-minute UTC slot falls in."""
        hit = self._slot_day.get(slot)
        if hit is None:
            hit = slot_local_day(int(slot), self.tz)
            self._slot_day[slot] = hit
        return hit

    # -- buckets --------------------------------------------------------------------------

    def bucket_of_day(self, ordinal: int) -> date:
        return bucket_start(date.fromordinal(ordinal), self.interval)

    def buckets(self) -> list[date]:
        """Every bucket start of the range, in order (the first may start before `first`)."""
        out = []
        b = bucket_start(self.first, self.interval)
        while b <= self.last:
            out.append(b)
            b = next_bucket(b, self.interval)
        return out

    def hour_buckets(self) -> list[int]:
        """Every local hour of the range, as the UTC instant (µs) the local hour starts."""
        out: list[int] = []
        seen: set[int] = set()
        t = self.start_us
        while t < self.end_us:
            key = hour_key(t // SLOT_US, self.tz)
            if key not in seen:
                seen.add(key)
                out.append(key)
            t += SLOT_US
        return out


def slot_local_day(slot: int, tz: ZoneInfo) -> int:
    at = EPOCH + timedelta(microseconds=slot * SLOT_US)
    return at.astimezone(tz).date().toordinal()


def hour_key(slot: int, tz: ZoneInfo) -> int:
    """The UTC instant (µs) at which the local hour holding this slot starts."""
    at = EPOCH + timedelta(microseconds=slot * SLOT_US)
    local = at.astimezone(tz)
    return slot * SLOT_US - (local.minute * 60 + local.second) * 1_000_000


def hour_label(key_us: int, tz: ZoneInfo) -> str:
    local = (EPOCH + timedelta(microseconds=key_us)).astimezone(tz)
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M") + f" {offset[:3]}:{offset[3:]}"


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise FieldError(
            f"/{name}", f"Expected a date as YYYY-MM-DD; received {text!r}", got=text
        ) from None


def _within(day: date, name: str) -> date:
    """`day`, if a report can cover it; else `FieldError` naming the parameter."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FieldError(
            f"/{name}",
            f"Expected a day from {FIRST_DAY} to {LAST_DAY}; received {day}",
            expected=f"a day from {FIRST_DAY} to {LAST_DAY}",
            got=str(day),
        )
    return day


def make_range(
    tz_name: str,
    today: date,
    first: str | None = None,
    last: str | None = None,
    interval: str | None = None,
    *,
    default_days: int = 30,
    allow_hour: bool = False,
) -> Range:
    """A report range from query text; `FieldError` (path, message) when it cannot be used."""
    interval = (interval or "day").strip().lower()
    allowed = INTERVALS if allow_hour else INTERVALS[1:]
    if interval not in allowed:
        raise FieldError(
            "/interval",
            f"Expected one of {', '.join(allowed)}; received {interval!r}",
            expected=f"one of {', '.join(allowed)}",
            got=interval,
        )
    end = _within(parse_day(last, "to") if last else today, "to")
    start = (
        _within(parse_day(first, "from"), "from")
        if first
        else max(FIRST_DAY, end - timedelta(days=default_days - 1))
    )
    if start > end:
        raise FieldError("/from", f"{start} is after `to` ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise FieldError("/from", f"A range is at most {MAX_DAYS} days")
    if interval == "hour" and (end - start).days + 1 > 62:
        raise FieldError("/interval", "Hourly figures are for ranges of at most 62 days")
    return Range(tz_name, start, end, interval)


def local_today(tz_name: str, now: datetime) -> date:
    return now.astimezone(zone(tz_name)).date()


def days_between(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)
