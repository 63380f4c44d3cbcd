"""What the dashboard's pages read from a query string or a form: bounded numbers, links
that are safe to follow, the same query with a few values changed, and a refused field as
a form shows it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from shopevents.errors import FieldError

PAGE = 50
"""Rows per page of a list."""

FIELD_NAMES = {
    "abandonAfterSeconds": "Abandonment delay",
    "timezone": "Time zone",
    "currency": "Currency",
    "name": "Name",
    "domains": "Authorised domains",
    "excludedPaths": "Pages not tracked",
    "from": "From",
    "to": "To",
    "interval": "Interval",
    "groupBy": "Split",
}


def safe_url(value: Any) -> str | None:
    """An http(s) URL to link to, or None (no javascript:, data: or relative tricks)."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    return v if re.match(r"^https?://[^\s\"'<>]+$", v, re.I) else None


def next_url(raw: str | None) -> str:
    """A path on this site to go to next (after a login, back from an action), else `/`."""
    if (
        raw
        and raw.startswith("/")
        and not raw.startswith("//")
        and "\\" not in raw
        and not any(ch.isspace() or ord(ch) < 32 for ch in raw)
    ):
        return raw
    return "/"


def bounded(text: str | None, default: int, lo: int = 0, hi: int = 10**12) -> int:
    """An integer parameter held within [lo, hi]; `default` when it is not a number."""
    try:
        return min(max(int(text or default), lo), hi)
    except ValueError:
        return default


def query(params: Any, **changes: Any) -> str:
    """The query string `params` with `changes` applied (None removes a key)."""
    data = {k: val for k, val in params.items()}
    for k, val in changes.items():
        if val is None:
            data.pop(k, None)
        else:
            data[k] = str(val)
    return "?" + urlencode(data) if data else "?"


def paged(rows: list[Any], page_no: int, params: Any) -> dict[str, Any]:
    """What a list's template takes: one page of `rows` (read one past the page, to know
    whether there are more), the page's number and the query of another page."""
    return {
        "rows": rows[:PAGE],
        "more": len(rows) > PAGE,
        "page_no": page_no,
        "query": lambda **kw: query(params, **kw),
    }


def lines(text: str) -> list[str]:
    """The values of a text area: one a line (or separated by commas), blanks dropped."""
    return [ln.strip() for ln in (text or "").replace(",", "\n").splitlines() if ln.strip()]


def field_message(exc: ValueError) -> str:
    """A refused report parameter as the page shows it: the field's label, then the rule's
    message (read from the `FieldError`; any other ValueError as it is)."""
    if not isinstance(exc, FieldError):
        return str(exc)
    return f"{FIELD_NAMES.get(exc.field, exc.field)}: {exc.message}"
