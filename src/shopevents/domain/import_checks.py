"""Checking an import's rows (`domain.import_plan`) with the validators events use
(`decode_model` and the product checks for products, `decode_entity` for contacts), with the
REST API's strictness: a field an event would drop with a warning is an error here. The rows
that pass are kept as their encoded JSON, a key seen twice merged into one record (the later
row's fields win)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any

import msgspec
from msgspec import inspect as mi

from shopevents.domain.catalog import product_data
from shopevents.domain.import_errors import (
    BOOL_FIELDS,
    INT_FIELDS,
    NUMBER_FIELDS,
    file_error,
    row_error,
)
from shopevents.domain.import_files import FORMATS, KINDS, Row, UnreadableRow, read_rows
from shopevents.jsoncodec import dumpb, loads, plain
from shopevents.schema import models as m
from shopevents.schema.emails import is_email
from shopevents.schema.numbers import Unreadable, read_text
from shopevents.schema.verdicts import (
    CheckContext,
    Verdict,
    check_product,
    decode_entity,
    decode_model,
    money_hook,
)

MAX_ROWS = 1_000_000
"""Most rows in one file (its checked records take about 250 MB of memory at this size);
split larger files."""
MAX_ERRORS = 1000
"""Errors listed in a report (all are counted)."""
LIST_SEPARATOR = "|"
"""Separates the values of a list field (`categories`, `tags`, ...) in a CSV cell."""

# Warnings that mean a field would be dropped: an import refuses them (as the REST API does).
_STRICT = {
    "invalid_enum",
    "invalid_field",
    "invalid_date",
    "invalid_email",
    "invalid_currency",
    "url_not_authorized",
}
_PRODUCT_FIELDS = {f.encode_name for f in mi.type_info(m.Product).fields}  # type: ignore[attr-defined]
_LIST_FIELDS = {"categories", "tags", "relatedExternalProductIds"}
_ENTITY_FIELDS = {f.encode_name for f in mi.type_info(m.EntityFields).fields}  # type: ignore[attr-defined]
_EMAIL_KEYS = ("_email", "email", "primaryKey")
_WHOLE = re.compile(r"^\s*-?\d{1,15}\s*$")


class Checked(msgspec.Struct):
    """The rows that passed, as `key → encoded record`, and the report's errors."""

    kind: str
    records: dict[str, bytes]
    rows: int = 0
    errors: list[dict[str, Any]] = []
    error_count: int = 0


def _verdict_errors(row: Row, verdict: Any, warnings: list[dict[str, str]]) -> list[dict[str, Any]]:
    found = ([verdict.error] if verdict.error else []) + [
        w for w in warnings if w["code"] in _STRICT
    ]
    out = []
    for e in found:
        field = e["path"].lstrip("/").split("/")[0] if e["path"] else ""
        value = row.obj.get(field) if isinstance(row.obj, dict) and field else None
        out.append(row_error(row.number, row.line, field, e["code"], e["message"], value))
    return out


def _check_product_row(
    row: Row, ctx: CheckContext, csv_cells: bool
) -> tuple[str, bytes] | list[dict[str, Any]]:
    obj = dict(row.obj)
    unknown = [k for k in obj if k not in _PRODUCT_FIELDS]
    if unknown:
        return [
            row_error(
                row.number,
                row.line,
                k,
                "unknown_field",
                f"Expected a product field ({', '.join(sorted(_PRODUCT_FIELDS))}); received {k!r}",
                obj[k],
            )
            for k in unknown
        ]
    if csv_cells:
        for k in _LIST_FIELDS & obj.keys():
            obj[k] = [v.strip() for v in obj[k].split(LIST_SEPARATOR) if v.strip()]
    verdict = _fast_product(obj, csv_cells) or decode_model(obj, m.Product, ctx)
    warnings = list(verdict.warnings)
    if verdict.error is None:
        check_product(verdict.value, "", ctx, warnings)
    errors = _verdict_errors(row, verdict, warnings)
    if errors:
        return errors
    p: m.Product = verdict.value
    return p.productId, dumpb(product_data(p))


def _fast_product(obj: dict[str, Any], csv_cells: bool) -> Verdict | None:
    """The typed path for a clean row (CSV numbers read as numbers, as the lenient path would
    read them, without a warning: in a CSV every cell is text); None sends the row to the
    lenient path, which says what is wrong."""
    typed = dict(obj)
    if csv_cells:
        for k in NUMBER_FIELDS & typed.keys():
            value = read_text(typed[k])
            if value is None or isinstance(value, Unreadable):
                return None
            typed[k] = value
        for k in INT_FIELDS & typed.keys():
            if not _WHOLE.match(typed[k]):
                return None
            typed[k] = int(typed[k])
        for k in BOOL_FIELDS & typed.keys():
            low = typed[k].strip().lower()
            if low not in ("true", "false"):
                return None
            typed[k] = low == "true"
    if any(isinstance(v, str) and "\x00" in v for v in typed.values()):
        return None
    try:
        product = msgspec.convert(typed, m.Product, dec_hook=money_hook, strict=True)
    except msgspec.ValidationError:
        return None
    return Verdict(type="Product", value=product)


def _check_contact_row(row: Row, ctx: CheckContext) -> tuple[str, bytes] | list[dict[str, Any]]:
    obj = dict(row.obj)
    given = [k for k in _EMAIL_KEYS if k in obj]
    if not given:
        return [
            row_error(
                row.number,
                row.line,
                "_email",
                "missing_field",
                "Missing required field `_email` (the contact's e-mail)",
            )
        ]
    if len(given) > 1:
        return [
            row_error(
                row.number,
                row.line,
                given[1],
                "invalid_value",
                f"Expected one e-mail column; received {', '.join(given)}",
            )
        ]
    key = given[0]
    raw_email = obj.pop(key)
    email = raw_email.strip().lower() if isinstance(raw_email, str) else ""
    errors = []
    if not is_email(email):
        errors.append(
            row_error(
                row.number,
                row.line,
                key,
                "invalid_email",
                f"Expected an e-mail address; received {raw_email!r}",
                raw_email,
            )
        )
    for k in list(obj):
        if k == "trackerId" or (k.startswith("_") and k not in _ENTITY_FIELDS):
            errors.append(
                row_error(
                    row.number,
                    row.line,
                    k,
                    "unknown_field",
                    f"Expected a contact field ({', '.join(sorted(_ENTITY_FIELDS - {'primaryKey', 'trackerId'}))}) "
                    f"or a custom field id not starting with `_`; received {k!r}",
                    obj.pop(k),
                )
            )
    if "_points" in obj and isinstance(obj["_points"], str) and _WHOLE.match(obj["_points"]):
        obj["_points"] = int(obj["_points"])  # a CSV cell: text by nature, no warning
    verdict = decode_entity(dumpb(obj), ctx, base="")
    errors += _verdict_errors(row, verdict, list(verdict.warnings))
    if errors:
        return errors
    info = verdict.value
    fields = {k: v for k, v in plain(info.fields).items() if k not in ("primaryKey", "trackerId")}
    fields.update(info.custom)
    return email, dumpb(fields)


def check_rows(
    kind: str,
    rows: Iterator[Row],
    ctx: CheckContext,
    *,
    csv_cells: bool,
    on_row: Callable[[int], None] | None = None,
) -> Checked:
    """Every row checked; the records of the good ones (later rows of a key merged over
    earlier ones) and the errors of the others."""
    out = Checked(kind, {})
    errors: list[dict[str, Any]] = []
    for row in rows:
        out.rows += 1
        if on_row is not None and out.rows % 100 == 0:
            on_row(out.rows)
        if out.rows > MAX_ROWS:
            raise file_error(
                row.line, "too_many_rows", f"Expected at most {MAX_ROWS} rows in a file; split it"
            )
        if isinstance(row.obj, UnreadableRow):
            found: Any = [row_error(row.number, row.line, "", "invalid_row", row.obj.reason)]
        elif not isinstance(row.obj, dict):
            found = [
                row_error(
                    row.number, row.line, "", "not_an_object", "Expected a JSON object", row.obj
                )
            ]
        elif kind == "products":
            found = _check_product_row(row, ctx, csv_cells)
        else:
            found = _check_contact_row(row, ctx)
        if isinstance(found, list):
            out.error_count += len(found)
            room = MAX_ERRORS - len(errors)
            if room > 0:
                errors.extend(found[:room])
            continue
        key, record = found
        earlier = out.records.get(key)
        if earlier is not None:
            record = dumpb({**loads(earlier), **loads(record)})
        out.records[key] = record
    if on_row is not None:
        on_row(out.rows)
    out.errors = errors
    return out


def read_and_check(
    fh: IO[bytes],
    kind: str,
    fmt: str,
    ctx: CheckContext,
    *,
    delimiter: str = ",",
    on_bytes: Callable[[int], None] | None = None,
    on_row: Callable[[int], None] | None = None,
) -> Checked:
    """Read and check a whole file. `on_row` is called every 100 rows (a server checking in a
    thread pauses there, so that its event loop is not kept waiting for the GIL)."""
    if kind not in KINDS:
        raise file_error(
            0, "invalid_value", f"Expected one of {', '.join(KINDS)}; received {kind!r}"
        )
    if fmt not in FORMATS:
        raise file_error(
            0, "invalid_value", f"Expected a format among {', '.join(FORMATS)}; received {fmt!r}"
        )
    if len(delimiter) != 1:
        raise file_error(
            0, "invalid_value", f"Expected a one-character delimiter; received {delimiter!r}"
        )
    return check_rows(kind, read_rows(fh, fmt, delimiter, on_bytes), ctx, csv_cells=fmt == "csv")


def failed_report(checked: Checked) -> dict[str, Any]:
    return {
        "status": "failed",
        "type": checked.kind,
        "rows": checked.rows,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "errorCount": checked.error_count,
        "errors": checked.errors,
    }


def check_context(now: datetime, currency: str, domains: list[str]) -> CheckContext:
    return CheckContext(now=now, currency=currency, domains=domains)
