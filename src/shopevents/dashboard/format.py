"""How the dashboard writes numbers, money and times (Jinja filters)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from shopevents.clock import from_micros
from shopevents.jsoncodec import dumps
from shopevents.reports.timebuckets import zone

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}
ZERO_DECIMALS = {
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
    "VUV", "XAF", "XOF", "XPF",
}  # fmt: skip


def number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, Decimal | float) and value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def money(value: Any, currency: str = "") -> str:
    """Exact: at least the currency's usual decimals, more if the amount has them."""
    if value is None:
        return "–"
    d = Decimal(str(value))
    places = 0 if currency in ZERO_DECIMALS else 2
    exp = d.normalize().as_tuple().exponent
    extra = max(-int(exp), places) if isinstance(exp, int) else places
    text = f"{d:,.{extra}f}"
    sym = SYMBOLS.get(currency)
    if sym:
        return f"-{sym}{text[1:]}" if text.startswith("-") else f"{sym}{text}"
    return f"{text} {currency}".strip()


def percent(value: Any) -> str:
    if value is None:
        return "–"
    return f"{Decimal(str(value)) * 100:.1f}%"


def _to_dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int):
        return from_micros(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: Any, tz: str = "UTC", seconds: bool = False) -> str:
    """A stored instant (µs or ISO text) in the store's time zone."""
    dt = _to_dt(value)
    if dt is None:
        return "–"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    local = dt.astimezone(zone(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def ago(value: Any, now: datetime) -> str:
    """How long before `now` a stored instant (µs or ISO text) was, in words."""
    dt = _to_dt(value)
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    secs = int((now - dt).total_seconds())
    if secs < 0:
        return "in the future"
    if secs < 60:
        return "just now" if secs < 5 else f"{secs} s ago"
    if secs < 3600:
        return f"{secs // 60} min ago"
    if secs < 86400:
        return f"{secs // 3600} h ago"
    return f"{secs // 86400} d ago"


def pretty_json(value: Any) -> str:
    """Indented JSON text of a value, or of JSON text (unreadable text is returned as is)."""
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        value = dumps(value)
    try:
        return msgspec.json.format(value, indent=2)
    except msgspec.DecodeError:
        return value


def duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def short_id(value: Any) -> str:
    """The part of an id that tells contacts apart: ids are time-ordered, so their first
    characters are shared by everything created around the same time; the last 8 are the
    random part."""
    text = str(value or "")
    return text[-8:] if len(text) > 8 else text


FIELD_LABELS = {
    "_name": "First name",
    "_surname": "Surname",
    "_birthdate": "Date of birth",
    "_mobilePhone": "Mobile phone",
    "_newsletterSubscriptionStatus": "Newsletter",
    "_emailStatus": "E-mail status",
    "_mobilePhoneStatus": "Mobile phone status",
    "_smsSubscriptionStatus": "SMS subscription",
    "_points": "Points",
    "_email": "E-mail",
    "_totalPurchases": "Purchases",
    "_totalPurchasesAmount": "Total spent",
    "_averagePurchasesAmount": "Average purchase",
    "_firstPurchaseDate": "First purchase",
    "_lastPurchaseDate": "Last purchase",
    "_createdAt": "Created",
}
"""People-facing names of Connectif's underscore contact fields."""


def field_label(name: Any) -> str:
    """A contact field's label: Connectif's `_name` is "First name"; a custom field keeps its
    own name."""
    key = str(name)
    if key in FIELD_LABELS:
        return FIELD_LABELS[key]
    if key.startswith("_") and len(key) > 1:
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key[1:]).lower()
        return words[:1].upper() + words[1:]
    return key


# `ago` is not here: it needs the time, which the routes give it from their clock.
FILTERS = {
    "number": number,
    "money": money,
    "percent": percent,
    "when": when,
    "pretty_json": pretty_json,
    "duration": duration,
    "json": dumps,
    "short_id": short_id,
    "field_label": field_label,
}
