"""The base of every answer type and the one way a handler answers with one."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from shopevents.responses import json_response


class Answer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An answer's fields, all of them: a key that is not a field is refused."""


class FieldWarning(Answer):
    """A field that was accepted with a change or a doubt."""

    code: str
    path: str
    message: str


class PageLinks(Answer):
    next: str | None


def answer(
    kind: type[Answer], value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`value` as JSON, after checking that it has the shape of `kind` (every required
    field, no other key, each of its type)."""
    msgspec.convert(value, kind)
    return json_response(value, status, headers)
