"""The e-mail rule: what an identifying e-mail address looks like (`primaryKey`, a newsletter's
`email`, a form's primary key field, the REST API's and the CLI's e-mail arguments)."""

from __future__ import annotations

import re
from typing import Any

from shopevents.errors import issue
from shopevents.schema.reasons import shown

# What may not appear in an address: `@`, NUL and white space as Python's `str.isspace` knows
# it, spelled out so that the same pattern means the same in the OpenAPI document (ECMA-262
# regular expressions, whose `\s` is another set).
_SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PART = rf"[^@\x00{_SPACE}]+"
EMAIL_PATTERN = rf"^{_PART}@{_PART}\.{_PART}$"
EMAIL_RE = re.compile(EMAIL_PATTERN)
MAX_EMAIL = 254
"""The longest address kept (RFC 5321's path limit, less the angle brackets)."""


def is_email(text: str) -> bool:
    """Whether `text` (trimmed, lower-cased) is an address the e-mail rule accepts."""
    return bool(EMAIL_RE.match(text)) and len(text) <= MAX_EMAIL


def identifying_email(value: Any, path: str, w: list[dict[str, str]]) -> str | None:
    """The e-mail an event names (a newsletter's `email`, a form's primary key field),
    trimmed and lowercased as `primaryKey` is; otherwise None with an `invalid_email`
    warning (the event is then recorded on the visitor's contact)."""
    if isinstance(value, str):
        pk = value.strip()
        if EMAIL_RE.match(pk) and len(pk) <= 254:
            return pk.lower()
    w.append(
        issue(
            "invalid_email",
            path,
            f"Expected an e-mail address; received {shown(value)}; the event is recorded on "
            "the visitor's contact",
        )
    )
    return None
