"""The errors of a bulk import (`domain.import_plan`): a row's error as the report lists it,
`{row, line, field, code, expected, got, message}`, worded from the verdict's message (and,
for the product's typed fields, from what a CSV cell must hold); a file that cannot be read
at all (`ImportError_`)."""

from __future__ import annotations

import re
from typing import Any

from msgspec import inspect as mi

from shopevents.jsoncodec import dumps
from shopevents.schema import models as m


def _fields_of(kind: type) -> set[str]:
    """The product's fields of a msgspec type kind (a CSV cell of one is read as that type)."""
    out = set()
    for f in mi.type_info(m.Product).fields:  # type: ignore[attr-defined]
        t = f.type
        if isinstance(t, mi.UnionType):
            t = next(x for x in t.types if not isinstance(x, mi.NoneType))
        if isinstance(t, mi.Metadata):
            t = t.type
        if isinstance(t, kind):
            out.add(f.encode_name)
    return out


NUMBER_FIELDS = _fields_of(mi.CustomType)  # Money
INT_FIELDS = _fields_of(mi.IntType)
BOOL_FIELDS = _fields_of(mi.BoolType)


class ImportError_(Exception):
    """The file cannot be read at all (not UTF-8, not CSV, unknown kind); `report` says why."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(report["errors"][0]["message"] if report["errors"] else "invalid file")
        self.report = report


def row_error(
    row: int, line: int, field: str, code: str, message: str, got: Any = None
) -> dict[str, Any]:
    expected, received = _split_message(message)
    if got is not None:
        received = got if isinstance(got, str) else dumps(got)
    if code == "missing_field":
        expected = f"a value for `{field}` (required)"
    elif code == "invalid_type" and field in NUMBER_FIELDS | INT_FIELDS and isinstance(got, str):
        whole = field in INT_FIELDS
        expected = "a whole number" if whole else "a number, with a dot before any decimals"
    message = f"Expected {expected}" + (
        f"; received {dumps(received)}" if received is not None else ""
    )
    return {
        "row": row,
        "line": line,
        "field": field,
        "code": code,
        "expected": expected,
        "got": received,
        "message": message,
    }


_MSG = re.compile(
    r"^(?P<exp>.*?)(?:; received (?P<got>.*?))?(?:; (?:the field was dropped|the store's currency .*|the received time is used))?$"
)


def _split_message(message: str) -> tuple[str, str | None]:
    mt = _MSG.match(message)
    if mt is None:
        return message, None
    expected = mt.group("exp")
    if expected.startswith("Expected "):
        expected = expected[len("Expected ") :]
    return expected, mt.group("got")


def file_error(line: int, code: str, message: str) -> ImportError_:
    return ImportError_(
        {
            "status": "failed",
            "rows": 0,
            "errorCount": 1,
            "errors": [row_error(0, line, "", code, message)],
        }
    )
