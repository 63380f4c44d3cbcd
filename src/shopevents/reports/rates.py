"""Exchange rates: the ECB's reference-rate files read, stored per day, and exact conversion.

A rate is how many units of a currency one euro buys on a day (the ECB's convention; EUR is
1). An amount in currency A on local day d is converted to currency R as
`amount / rate(A, d) × rate(R, d)`, exactly (Decimal), rounded once, half even, to R's minor
unit. The rate of a day is the latest published on or before it, at most `MAX_AGE_DAYS`
older (weekends and holidays have none); past that the rate is missing and nothing is
guessed.

Input formats (the server has no internet: the operator downloads and loads them):
- the daily CSV (`eurofxref.csv`: `Date, USD, JPY, ...` then `04 December 2026, 1.0550, ...`)
  and the historical CSV (`eurofxref-hist.csv`: `Date,USD,...` then `2026-12-04,1.0550,...`,
  `N/A` where none);
- the daily and historical XML (`eurofxref-daily.xml`, `eurofxref-hist.xml`):
  `<Cube time="2026-12-04"><Cube currency="USD" rate="1.0550"/>...</Cube>`.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from shopevents.schema.currencies import ISO_4217, minor_unit
from shopevents.storage import exchange_rates as stored
from shopevents.storage.database import Conn

MAX_AGE_DAYS = 7
BASE = "EUR"
_MILLION = Decimal(1_000_000)

Rate = tuple[date, str, Decimal]


class RatesError(ValueError):
    """A rates file that cannot be read (the message says where)."""


def parse(data: bytes | str) -> list[Rate]:
    """Rates from an ECB CSV or XML file (either, daily or historical)."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise RatesError(f"The file is not UTF-8 text (byte {exc.start})") from None
    head = text.lstrip()[:200]
    if head.startswith("<"):
        return parse_xml(text)
    return parse_csv(text)


def _date(text: str) -> date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise RatesError(f"Expected a date such as 2026-12-04 or 04 December 2026; received {text!r}")


def _rate(text: str, where: str) -> Decimal | None:
    text = text.strip()
    if text in ("", "N/A"):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RatesError(f"{where}: Expected a rate; received {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise RatesError(f"{where}: Expected a rate above zero; received {text!r}")
    return value


def _currency(text: str, where: str) -> str:
    code = text.strip().upper()
    if code not in ISO_4217:
        raise RatesError(f"{where}: {text!r} is not an ISO 4217 code")
    return code


def parse_csv(text: str) -> list[Rate]:
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise RatesError(f"The CSV cannot be read: {exc}") from None
    if not rows or rows[0][0].strip().lower() != "date":
        raise RatesError("Expected an ECB CSV file starting with a `Date` column")
    header = rows[0]
    codes = [
        _currency(c, f"line 1, column {i + 1}") if i and c.strip() else None
        for i, c in enumerate(header)
    ]
    out: list[Rate] = []
    for n, row in enumerate(rows[1:], start=2):
        day = _date(row[0])
        for i, cell in enumerate(row[1:], start=1):
            code = codes[i] if i < len(codes) else None
            if code is None:
                continue
            value = _rate(cell, f"line {n}, {code}")
            if value is not None:
                out.append((day, code, value))
    return out


def parse_xml(text: str) -> list[Rate]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise RatesError(f"The XML cannot be read: {exc}") from None
    out: list[Rate] = []
    for cube in root.iter():
        if not cube.tag.endswith("Cube") or "time" not in cube.attrib:
            continue
        day = _date(cube.attrib["time"])
        for item in cube:
            code = item.attrib.get("currency")
            raw = item.attrib.get("rate")
            if code is None or raw is None:
                continue
            code = _currency(code, f"{day}")
            value = _rate(raw, f"{day}, {code}")
            if value is not None:
                out.append((day, code, value))
    if not out:
        raise RatesError("Expected an ECB XML file with <Cube time=...> elements")
    return out


def load(conn: Conn, rates: Iterable[Rate], now: int) -> int:
    """Store rates (a day's rate loaded again replaces the old one). Gives how many."""
    rows = [stored.StoredRate(d.toordinal(), c, v) for d, c, v in rates if c != BASE]
    stored.save(conn, rows, now)
    return len(rows)


def listing(conn: Conn, first: date, last: date) -> list[dict[str, object]]:
    return [
        {"date": date.fromordinal(r.day).isoformat(), "currency": r.currency, "rate": r.rate}
        for r in stored.between(conn, first.toordinal(), last.toordinal())
    ]


class Table:
    """The rates of some currencies over some days, read once, looked up many times."""

    def __init__(self, conn: Conn, currencies: Iterable[str], first_day: int, last_day: int):
        self.days: dict[str, list[int]] = defaultdict(list)
        self.values: dict[str, list[Decimal]] = defaultdict(list)
        wanted = sorted({c for c in currencies if c != BASE})
        if wanted:
            for d, c, r in stored.of_currencies(conn, wanted, first_day - MAX_AGE_DAYS, last_day):
                self.days[c].append(d)
                self.values[c].append(r)

    def rate(self, currency: str, day: int) -> Decimal | None:
        """Units of `currency` per euro on local day `day` (an ordinal), or None if missing."""
        if currency == BASE:
            return Decimal(1)
        days = self.days.get(currency)
        if not days:
            return None
        i = bisect_right(days, day) - 1
        if i < 0 or day - days[i] > MAX_AGE_DAYS:
            return None
        return self.values[currency][i]


def convert(amount: int, source: str, target: str, table: Table, day: int) -> int | None:
    """`amount` (millionths of `source`) in millionths of `target` on local day `day`, rounded
    once, half even, to `target`'s minor unit; None if a rate is missing."""
    if source == target:
        return amount
    r_from = table.rate(source, day)
    r_to = table.rate(target, day)
    if r_from is None or r_to is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 60  # one division, exact to far more places than any minor unit
        value = (Decimal(amount) * r_to) / (_MILLION * r_from)
        step = Decimal(1).scaleb(-minor_unit(target))
        return int(value.quantize(step, rounding=ROUND_HALF_EVEN) * _MILLION)
