"""The rules of a store's settings (domain/store_settings.py) on plain values: the table of
what a person or a client may give and what is stored. tests/config/test_store_settings_surfaces.py
runs the same table through the CLI, the dashboard's settings form and PATCH /api/store."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shopevents.domain import store_settings as rules
from shopevents.domain.store_settings import SETTINGS, SettingError

REFUSED = SettingError
"""In the table: the value is refused (the fourth column is then a part of the message)."""

# (setting, given as typed, stored, for a refusal: a part of the message)
TABLE: list[tuple[str, Any, Any, str]] = [
    # the abandonment delay: a bare number is seconds; 1 s to 90 d, whole seconds
    ("abandonAfterSeconds", "600", 600, ""),
    ("abandonAfterSeconds", "1", 1, ""),
    ("abandonAfterSeconds", "45s", 45, ""),
    ("abandonAfterSeconds", "45 sec", 45, ""),
    ("abandonAfterSeconds", "30m", 1800, ""),
    ("abandonAfterSeconds", " 30 min ", 1800, ""),
    ("abandonAfterSeconds", "2h", 7200, ""),
    ("abandonAfterSeconds", "1.5h", 5400, ""),
    ("abandonAfterSeconds", "1D", 86400, ""),
    ("abandonAfterSeconds", "2 days", 172800, ""),
    ("abandonAfterSeconds", "90d", 7776000, ""),
    ("abandonAfterSeconds", "7776000", 7776000, ""),
    ("abandonAfterSeconds", "0", REFUSED, "1 s to 90 d"),
    ("abandonAfterSeconds", "0s", REFUSED, "1 s to 90 d"),
    ("abandonAfterSeconds", "7776001", REFUSED, "1 s to 90 d"),
    ("abandonAfterSeconds", "91d", REFUSED, "1 s to 90 d"),
    ("abandonAfterSeconds", "1000d", REFUSED, "1 s to 90 d"),
    ("abandonAfterSeconds", "0.5s", REFUSED, "whole number of seconds"),
    ("abandonAfterSeconds", "1.5", REFUSED, "whole number of seconds"),
    ("abandonAfterSeconds", "-5", REFUSED, "received '-5'"),
    ("abandonAfterSeconds", "soon", REFUSED, "30m"),
    ("abandonAfterSeconds", "", REFUSED, "received ''"),
    ("abandonAfterSeconds", "30 m h", REFUSED, "30m"),
    ("abandonAfterSeconds", "\u0661\u0660m", REFUSED, "30m"),  # Arabic-Indic digits
    # name
    ("name", "  Corner shop ", "Corner shop", ""),
    ("name", "   ", REFUSED, "not blank"),
    # currencies
    ("currency", "usd", "USD", ""),
    ("currency", " eur ", "EUR", ""),
    ("currency", "ZZZ", REFUSED, "ISO 4217"),
    ("currency", "EURO", REFUSED, "ISO 4217"),
    ("reportingCurrency", "gbp", "GBP", ""),
    ("reportingCurrency", "XX", REFUSED, "ISO 4217"),
    # time zone
    ("timezone", "Europe/Madrid", "Europe/Madrid", ""),
    ("timezone", "UTC", "UTC", ""),
    ("timezone", "Mars/Olympus", REFUSED, "Europe/Madrid"),
    ("timezone", "../etc/passwd", REFUSED, "IANA time zone"),
    ("timezone", "", REFUSED, "IANA time zone"),
    # authorised domains: host names (subdomains included) or URL prefixes
    ("domains", ["Shop.Example"], ["shop.example"], ""),
    ("domains", ["*.shop.example", "shop.example"], ["shop.example"], ""),
    ("domains", ["https://Shop.Example/es/"], ["https://shop.example/es/"], ""),
    ("domains", ["shop.example:8443"], ["shop.example:8443"], ""),
    ("domains", [], [], ""),
    ("domains", ["shop.example/es/"], REFUSED, "a path needs the scheme"),
    ("domains", ["ftp://shop.example"], REFUSED, "http:// or https://"),
    ("domains", ["shop.example", "not a host"], REFUSED, "received 'not a host'"),
    # pages not tracked
    ("excludedPaths", ["^/account", "/checkout/"], ["^/account", "/checkout/"], ""),
    ("excludedPaths", ["("], REFUSED, "regular expression"),
    # on/off settings
    ("tagMode", "on", True, ""),
    ("tagMode", "off", False, ""),
    ("trackingEnabled", "off", False, ""),
    ("consentRequired", "on", True, ""),
    ("honourGpc", "on", True, ""),
    ("keepBots", "on", True, ""),
    ("keepBots", "maybe", REFUSED, "true or false"),
]


def ids(table: list[tuple[str, Any, Any, str]]) -> list[str]:
    return [f"{name}={given!r}" for name, given, _, _ in table]


@pytest.mark.parametrize(("name", "given", "stored", "hint"), TABLE, ids=ids(TABLE))
def test_the_table(name: str, given: Any, stored: Any, hint: str) -> None:
    column = SETTINGS[name].column
    if stored is REFUSED:
        with pytest.raises(SettingError) as caught:
            rules.parse_changes({name: given})
        exc = caught.value
        assert exc.name == name and exc.path.startswith(f"/{name}")
        assert hint in exc.message and exc.message.startswith("Expected ")
        assert str(exc) == f"{exc.path}: {exc.message}"
    else:
        assert rules.parse_changes({name: given}) == {column: stored}


# What only JSON can say: numbers and booleans as such, and values of the wrong type.
JSON_TABLE: list[tuple[str, Any, Any, str]] = [
    ("abandonAfterSeconds", 600, 600, ""),
    ("abandonAfterSeconds", 600.0, 600, ""),
    ("abandonAfterSeconds", Decimal("1E+3"), 1000, ""),
    ("abandonAfterSeconds", 0, REFUSED, "received 0"),
    ("abandonAfterSeconds", -1, REFUSED, "received -1"),
    ("abandonAfterSeconds", 7776001, REFUSED, "received 7776001"),
    ("abandonAfterSeconds", 600.5, REFUSED, "whole number"),
    ("abandonAfterSeconds", float("nan"), REFUSED, "whole number"),
    ("abandonAfterSeconds", True, REFUSED, "received true"),
    ("abandonAfterSeconds", None, REFUSED, "received null"),
    ("tagMode", True, True, ""),
    ("tagMode", 1, REFUSED, "received 1"),
    ("tagMode", None, REFUSED, "received null"),
    ("name", 5, REFUSED, "received 5"),
    ("name", "a\x00b", REFUSED, "not blank"),
    ("currency", ["EUR"], REFUSED, "received a list"),
    ("domains", "shop.example", REFUSED, "a list of domains"),
    ("domains", [7], REFUSED, "received 7"),
    ("excludedPaths", {"a": 1}, REFUSED, "received an object"),
    ("excludedPaths", [None], REFUSED, "received null"),
]


@pytest.mark.parametrize(("name", "given", "stored", "hint"), JSON_TABLE, ids=ids(JSON_TABLE))
def test_json_values(name: str, given: Any, stored: Any, hint: str) -> None:
    test_the_table(name, given, stored, hint)


def test_an_unknown_setting_is_refused_and_the_id_ignored() -> None:
    assert rules.parse_changes({"id": "anything", "name": "x"}) == {"name": "x"}
    with pytest.raises(SettingError) as caught:
        rules.parse_changes({"colour": "red"})
    assert caught.value.path == "/colour" and "abandonAfterSeconds" in caught.value.message


def test_the_error_says_which_domain() -> None:
    with pytest.raises(SettingError) as caught:
        rules.domains(["shop.example", "a b"])
    assert caught.value.path == "/domains/1" and caught.value.name == "domains"


def test_every_setting_of_a_store_has_a_rule() -> None:
    from shopevents.storage.stores import UPDATABLE

    assert {s.column for s in SETTINGS.values()} == set(UPDATABLE)
