"""What every operation of the OpenAPI document is made of: `Op`, one operation of the route
table as data (its summary, parameters, body, answers and errors), the error shape, and the
parameters several operations share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from shopevents.api.shapes.base import Answer

ERROR = {
    "type": "object",
    "required": ["status", "code", "message", "errors"],
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "validationErrors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "reason"],
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
COMMON = {
    401: "Missing, malformed, unknown or revoked API key",
    422: "A field is invalid; see validationErrors",
    503: "Storage unavailable; retry after Retry-After",
}
NOT_JSON = "The body is not JSON"
TOO_LARGE = "The body is over the limit"
BODY_ERRORS = {400: NOT_JSON, 413: TOO_LARGE}
"""The errors of a JSON body with a size limit."""
# Not blank (for Python's str.strip()) and without NUL.
TEXT = "^[^\\x00]*[^\\s\\x00\\x1c-\\x1f\\x85][^\\x00]*$"
DAY = {"type": "string", "format": "date"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 500}
NO_NUL = "^[^\\x00]*$"
"""No NUL (U+0000): a path or query parameter holding one is refused (422)."""
SEARCH_TEXT = {"type": "string", "maxLength": 254, "pattern": NO_NUL}


@dataclass(frozen=True)
class Op:
    """One operation: `answers` maps each success status to its description and the Struct
    the handler answers with (None: no body); `errors` adds to or replaces the common ones
    (401, 422, 503); `paths` gives a path parameter's description and schema by its name in
    the document (camelCase); `request` is the Struct of its JSON request body (its schema is
    generated from it; `request_required` false: the body may be left out), `body` a request
    body object that is not JSON; `raw` gives a success response object as is (an answer that
    is not JSON)."""

    summary: str
    operation_id: str
    answers: dict[int, tuple[str, type[Answer] | None]]
    errors: dict[int, str] = field(default_factory=dict)
    query: tuple[dict[str, Any], ...] = ()
    paths: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    request: type[msgspec.Struct] | None = None
    request_required: bool = True
    body: dict[str, Any] | None = None
    raw: dict[int, dict[str, Any]] = field(default_factory=dict)


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A query parameter."""
    out: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        out["description"] = description
    return out


def string_id(description: str) -> tuple[str, dict[str, Any]]:
    """A path parameter's description and schema: any non-empty text without NUL."""
    return description, {"type": "string", "minLength": 1, "pattern": NO_NUL}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """A JSON request body of this schema."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}
