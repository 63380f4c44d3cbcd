"""The base of every answer type and the one way a handler answers with one; the base of every
request body type and the one way a handler reads a body through one."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.responses import Response

from shopevents.errors import FieldError, validation_error
from shopevents.responses import json_response
from shopevents.schema.reasons import located


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


class Body(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A request body's fields, as the OpenAPI document describes them (`refine_schema` adds
    what a Struct cannot say)."""

    @classmethod
    def refine_schema(cls, schema: dict[str, Any]) -> None:
        """Change the JSON Schema generated from the Struct, in place (nothing by default)."""


B = TypeVar("B", bound=msgspec.Struct)


def conform(value: Any, kind: type[B]) -> B:
    """`value` (a body, or the values a handler's own checks made of it, under the body's
    names) as `kind`; a value `kind` refuses is a `422` at the field msgspec names, so a
    handler never accepts what the document of its body refuses."""
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        path, message = located(exc)
        raise validation_error([FieldError(path, message)]) from None
