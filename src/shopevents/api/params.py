"""The REST API's reading of path and query parameters, and its refusals of them: each a `422
validation_failed` naming the parameter as a JSON pointer (`/limit`, `/email`)."""

from __future__ import annotations

import re

from starlette.requests import Request

from shopevents.errors import ApiError, FieldError, validation_error
from shopevents.schema.emails import EMAIL_PATTERN

EMAIL = re.compile(EMAIL_PATTERN)
MAX_TEXT = 254
"""The longest text a search parameter may hold (an e-mail's length)."""


def invalid(path: str, message: str, code: str = "invalid_value") -> ApiError:
    """`422 validation_failed` for one refused field."""
    return validation_error([FieldError(path, message, code=code)])


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter from lo to hi (422 otherwise)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if raw.strip().lstrip("+-").isascii() else int("x")
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise invalid(
            f"/{name}",
            f"Expected a whole number from {lo} to {hi}; received {raw!r}",
            "invalid_value" if value is not None else "invalid_type",
        )
    return value


def text_param(request: Request, name: str) -> str | None:
    """A search text (query parameter): at most 254 characters, no NUL; empty is none."""
    value = request.query_params.get(name)
    if value is not None and ("\x00" in value or len(value) > MAX_TEXT):
        raise invalid(f"/{name}", "Expected a text of at most 254 characters without NUL")
    return value or None


def email_param(text: str) -> str:
    """An e-mail address given in the path, trimmed and lowercased (422 if it is not one)."""
    email = text.strip().lower()
    if not EMAIL.match(email) or len(email) > MAX_TEXT:
        raise invalid("/email", f"Expected an e-mail address; received {text!r}", "invalid_email")
    return email


def digits(text: str) -> bool:
    """A non-negative whole number of at most 18 digits (an id or a cursor part)."""
    return text.isascii() and text.isdigit() and len(text) <= 18
