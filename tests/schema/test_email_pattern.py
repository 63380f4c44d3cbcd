"""The e-mail rule's pattern excludes exactly `@`, NUL and Python's white space, spelled out so
that the OpenAPI document (ECMA-262 patterns) and the server mean the same addresses."""

from __future__ import annotations

import re

from shopevents.api.openapi import openapi_document
from shopevents.schema.emails import EMAIL_PATTERN, EMAIL_RE


def test_the_pattern_refuses_exactly_at_nul_and_white_space() -> None:
    refused = {
        cp for cp in range(0x110000) if not EMAIL_RE.match(f"a{chr(cp)}b@c.d") and cp != 0x40
    }
    expected = {cp for cp in range(0x110000) if chr(cp).isspace()} | {0}
    assert refused == expected


def test_the_pattern_uses_no_class_escape_that_differs_between_python_and_ecma() -> None:
    assert not re.search(r"\\[sSdDwW]", EMAIL_PATTERN)


def test_the_openapi_email_parameter_has_the_servers_pattern() -> None:
    doc = openapi_document("http://127.0.0.1")
    param = doc["paths"]["/api/contacts/{email}"]["delete"]["parameters"][0]
    assert param["schema"]["pattern"] == EMAIL_PATTERN
    assert "format" not in param["schema"]
