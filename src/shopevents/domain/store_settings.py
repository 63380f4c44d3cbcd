"""The rules of a store's settings, one function per setting, used by every surface that
changes them: `shopevents stores create/update`, the dashboard's settings form and
`PATCH /api/store`. So all three accept and refuse the same inputs, with the same message.

Each rule takes the value as a person or a client gives it (a text typed in the CLI or the
form, or a JSON value) and returns the value to store, or raises `SettingError` carrying
the setting's path (its REST name, as a JSON pointer: `/abandonAfterSeconds`,
`/domains/1`), what was expected and what was received. No error text is parsed back:
each surface reads `path`, `expected` and `got` (`SETTINGS[name]` gives the CLI option and
the dashboard label of a setting).

The abandonment delay: a number of seconds (a bare number is seconds everywhere, as the
REST name `abandonAfterSeconds` says), or a number with a unit, `45s`, `30m`, `2h`, `1d`
(also `sec`, `min`, `hours`, `days`, ...); it must come to a whole number of seconds from
1 s to 90 days (7,776,000 s)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from shopevents.errors import FieldError
from shopevents.schema.currencies import ISO_4217

MIN_DELAY, MAX_DELAY = 1, 90 * 86400
"""The abandonment delay's bounds, in seconds: 1 s to 90 days."""


class SettingError(FieldError):
    """A store setting refused: `path` (a JSON pointer in the REST API's names), what was
    expected, what was received (a field error of the one error model)."""

    def __init__(self, path: str, expected: str, got: Any) -> None:
        super().__init__(
            path, f"Expected {expected}; received {shown(got)}", expected=expected, got=got
        )
        self.expected: str = expected

    @property
    def name(self) -> str:
        """The setting's REST name (`domains` for `/domains/1`)."""
        return self.field


def shown(value: Any) -> str:
    """A received value as a message shows it: texts quoted, JSON's words for the rest."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, int | float | Decimal):
        text = str(value)
    elif isinstance(value, list | tuple):
        return "a list"
    elif isinstance(value, dict):
        return "an object"
    else:
        text = str(getattr(value, "text", value))  # an unreadable JSON number: its literal
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: Any, path: str, expected: str) -> str:
    """A text without NUL, stripped; SettingError otherwise."""
    if not isinstance(value, str) or "\x00" in value:
        raise SettingError(path, expected, value)
    return value.strip()


def _list(value: Any, path: str, expected: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise SettingError(path, expected, value)
    return list(value)


# --- the rules ------------------------------------------------------------------------------


def name(value: Any, path: str = "/name") -> str:
    expected = "a name that is not blank"
    text = _text(value, path, expected)
    if not text:
        raise SettingError(path, expected, value)
    return text


def currency(value: Any, path: str = "/currency") -> str:
    """An ISO 4217 code, any case (`eur` is `EUR`)."""
    expected = "an ISO 4217 currency code (EUR, USD, ...)"
    code = _text(value, path, expected).upper()
    if code not in ISO_4217:
        raise SettingError(path, expected, value)
    return code


def reporting_currency(value: Any) -> str:
    return currency(value, "/reportingCurrency")


def timezone(value: Any, path: str = "/timezone") -> str:
    expected = "an IANA time zone such as Europe/Madrid or UTC"
    tz = _text(value, path, expected)
    try:
        ZoneInfo(tz)
    except Exception:  # unknown key, or a path-like or otherwise malformed one
        raise SettingError(path, expected, value) from None
    return tz


_HOST = re.compile(r"^(?:[\w-]+\.)*[\w-]+(?::\d{1,5})?$|^\[[0-9a-f:.]+\](?::\d{1,5})?$")
_DOMAIN = (
    "a host name (shop.example, which covers its subdomains) or a URL prefix "
    "with its scheme (https://shop.example/es/)"
)


def domain(value: Any, path: str = "/domains/0") -> str:
    """One authorised domain, in one of the two forms stores use:

    - a host name, `shop.example` (our script's form and the Origin check's): that host and
      its subdomains, any scheme and port; a leading `*.` or `.` is dropped, a port kept;
    - a URL prefix, `https://shop.example/es/` (Connectif's form: its script tracks a page
      whose address starts with it): scheme and host lowercased, the rest kept as given."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or any(ch.isspace() or ord(ch) < 32 or ch == "\x7f" for ch in text):
        raise SettingError(path, _DOMAIN, value)
    if "://" in text:
        try:
            parts = urlsplit(text)
            host = parts.hostname
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            host = None
        scheme = parts.scheme.lower() if host else ""
        if scheme not in ("http", "https") or not host or "@" in parts.netloc:
            raise SettingError(
                path, _DOMAIN + "; a URL prefix starts with http:// or https:// and a host", value
            )
        head = f"{parts.scheme}://{parts.netloc}"
        return f"{scheme}://{parts.netloc.lower()}{text[len(head) :]}"
    host = text.lower()
    for lead in ("*.", "."):
        host = host.removeprefix(lead)
    if "/" in host or not _HOST.match(host):
        raise SettingError(path, _DOMAIN + " (a path needs the scheme in front)", value)
    return host


def domains(value: Any) -> list[str]:
    """The authorised domains (a list; empty: any origin), each by `domain`, duplicates
    dropped."""
    out: list[str] = []
    for i, item in enumerate(_list(value, "/domains", "a list of domains")):
        d = domain(item, f"/domains/{i}")
        if d not in out:
            out.append(d)
    return out


_DELAY = re.compile(
    r"^\s*([0-9]{1,12}(?:\.[0-9]{1,9})?)\s*"
    r"(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)?\s*$",
    re.IGNORECASE | re.ASCII,
)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DELAY_EXPECTED = (
    "a delay from 1 s to 90 d: a whole number of seconds, or a number with a unit "
    "s, m, h or d (45s, 30m, 2h, 1d)"
)


def abandon_after(value: Any, path: str = "/abandonAfterSeconds") -> int:
    """The abandonment delay in seconds: a JSON number of seconds (`600.0` is 600), or a text,
    `600` (a bare number is seconds), `45s`, `30m`, `2h`, `1d`, `1.5h`; a whole number of
    seconds from MIN_DELAY to MAX_DELAY."""
    seconds: Decimal | None = None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            seconds = Decimal(value)
        except (InvalidOperation, ValueError):
            seconds = None
    elif isinstance(value, str) and (mt := _DELAY.match(value)):
        seconds = Decimal(mt.group(1)) * _UNIT[(mt.group(2) or "s")[0].lower()]
    if (
        seconds is None
        or not seconds.is_finite()
        or not MIN_DELAY <= seconds <= MAX_DELAY
        or seconds != seconds.to_integral_value()
    ):
        raise SettingError(path, _DELAY_EXPECTED, value)
    return int(seconds)


_ON = {True: True, False: False, "on": True, "off": False, "true": True, "false": False}


def flag(value: Any, path: str) -> bool:
    """An on/off setting: true or false (JSON), on or off (the CLI)."""
    key = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(key, bool | str) or key not in _ON:
        raise SettingError(path, "true or false (on or off)", value)
    return _ON[key]


def excluded_paths(value: Any) -> list[str]:
    """Pages not tracked: regular expressions matched against the page URL."""
    out: list[str] = []
    for i, item in enumerate(_list(value, "/excludedPaths", "a list of regular expressions")):
        path = f"/excludedPaths/{i}"
        if not isinstance(item, str) or "\x00" in item:
            raise SettingError(path, "a regular expression without NUL (U+0000)", item)
        rx = item
        try:
            re.compile(rx)
        except re.error as exc:
            raise SettingError(path, f"a regular expression ({exc})", item) from None
        out.append(rx)
    return out


# --- the table: REST name -> column, CLI option, dashboard label, rule ----------------------


@dataclass(frozen=True)
class Setting:
    name: str
    """The REST name (and the path of its errors)."""
    column: str
    """The StoreRecord field / stores column."""
    option: str
    """The CLI option of `stores update` (`stores create` takes name, currency, time zone and
    domains too)."""
    label: str
    """The dashboard's label."""
    rule: Callable[[Any], Any]


def _flag(name: str) -> Callable[[Any], bool]:
    return lambda value: flag(value, f"/{name}")


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("name", "name", "--name", "Name", name),
        Setting("currency", "currency", "--currency", "Currency", currency),
        Setting(
            "reportingCurrency",
            "reporting_currency",
            "--reporting-currency",
            "Reporting currency",
            reporting_currency,
        ),
        Setting("timezone", "timezone", "--timezone", "Time zone", timezone),
        Setting("domains", "domains", "--domain", "Authorised domains", domains),
        Setting(
            "abandonAfterSeconds",
            "abandon_after_seconds",
            "--abandon-after",
            "Abandonment delay",
            abandon_after,
        ),
        Setting("tagMode", "tag_mode", "--tag-mode", "Tag mode", _flag("tagMode")),
        Setting(
            "trackingEnabled",
            "tracking_enabled",
            "--tracking",
            "Web tracking",
            _flag("trackingEnabled"),
        ),
        Setting(
            "excludedPaths", "excluded_paths", "--exclude", "Pages not tracked", excluded_paths
        ),
        Setting(
            "consentRequired",
            "consent_required",
            "--consent-required",
            "Consent required",
            _flag("consentRequired"),
        ),
        Setting("honourGpc", "honour_gpc", "--honour-gpc", "Honour GPC", _flag("honourGpc")),
        Setting("keepBots", "keep_bots", "--keep-bots", "Keep bots", _flag("keepBots")),
    ]
}


def parse_changes(given: dict[str, Any]) -> dict[str, Any]:
    """A change of settings in REST names (`{"abandonAfterSeconds": "30m"}`) -> the columns
    to store (`{"abandon_after_seconds": 1800}`); SettingError at the first value refused
    (`id` is ignored, so a store read back can be sent again)."""
    changes: dict[str, Any] = {}
    for key, value in given.items():
        setting = SETTINGS.get(key)
        if setting is not None:
            changes[setting.column] = setting.rule(value)
        elif key != "id":
            raise SettingError(f"/{key}", f"one of the settings {', '.join(SETTINGS)}", key)
    return changes


__all__ = [
    "MAX_DELAY",
    "MIN_DELAY",
    "SETTINGS",
    "Setting",
    "SettingError",
    "abandon_after",
    "currency",
    "domain",
    "domains",
    "excluded_paths",
    "flag",
    "name",
    "parse_changes",
    "reporting_currency",
    "timezone",
]
