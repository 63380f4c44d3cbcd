"""Bulk import of a store's catalog (products) and contacts from CSV or JSON Lines.

A file is imported whole or not at all:

1. **Read and check every row first**, with the validators events use (`decode_model` and the
   product checks for products, `decode_entity` for contacts), the REST API's strictness (a
   field an event would drop with a warning is an error here). Every failing row is reported
   as `{row, line, field, code, expected, got, message}`; one error and nothing is written.
2. **Then write everything in one transaction**, in statements of `WRITE_BATCH` rows: an
   existing product or contact (by `productId` / e-mail) is updated, the fields of the row
   over the stored ones; a missing one is created; a row that changes nothing writes nothing.
   So importing the same file again changes nothing, and a failure while writing (storage
   gone) rolls the whole file back.

Rows are kept between the two steps as their encoded JSON (a few hundred bytes each), not as
objects. Within a file a key seen twice is one record: the later row's fields win.
Imports fire no webhooks (a migration of 100,000 contacts would otherwise send 100,000
`contact.created`); a created contact's timeline starts with `entity-created`, data
`{"email", "import": true}`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import IO, Any

import msgspec
from msgspec import inspect as mi

from shopevents.domain import timeline
from shopevents.domain.catalog import product_data
from shopevents.ids import new_id
from shopevents.schema import models as m
from shopevents.schema.emails import is_email
from shopevents.schema.numbers import Unreadable, decode_any, read_text
from shopevents.schema.verdicts import (
    CheckContext,
    Verdict,
    check_product,
    decode_entity,
    decode_model,
    money_hook,
)
from shopevents.storage import imports as stored
from shopevents.storage.codec import dumpb, dumps, loads, money_to_db, plain
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

KINDS = ("products", "contacts")
FORMATS = ("csv", "jsonl")
MAX_ROWS = 1_000_000
"""Most rows in one file (its checked records take about 250 MB of memory at this size);
split larger files."""
MAX_ERRORS = 1000
"""Errors listed in a report (all are counted)."""
WRITE_BATCH = 1000
"""Rows per statement while writing."""
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


def _fields_of(kind: type) -> set[str]:
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


_NUMBER_FIELDS = _fields_of(mi.CustomType)  # Money
_INT_FIELDS = _fields_of(mi.IntType)
_BOOL_FIELDS = _fields_of(mi.BoolType)


class ImportError_(Exception):
    """The file cannot be read at all (not UTF-8, not CSV, unknown kind); `report` says why."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(report["errors"][0]["message"] if report["errors"] else "invalid file")
        self.report = report


def guess_format(name: str | None, content_type: str | None = None) -> str | None:
    """`csv` or `jsonl` from a file name or a content type; None if neither tells."""
    low = (name or "").lower()
    if low.endswith((".csv", ".csv.gz", ".txt")):
        return "csv"
    if low.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        return "jsonl"
    return None


# --- reading --------------------------------------------------------------------------------


class Row(msgspec.Struct):
    number: int  # data row, from 1
    line: int  # line of the file where the row starts
    obj: Any


def _error(
    row: int, line: int, field: str, code: str, message: str, got: Any = None
) -> dict[str, Any]:
    expected, received = _split_message(message)
    if got is not None:
        received = got if isinstance(got, str) else dumps(got)
    if code == "missing_field":
        expected = f"a value for `{field}` (required)"
    elif code == "invalid_type" and field in _NUMBER_FIELDS | _INT_FIELDS and isinstance(got, str):
        whole = field in _INT_FIELDS
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


def read_rows(
    fh: IO[bytes], fmt: str, delimiter: str = ",", on_bytes: Callable[[int], None] | None = None
) -> Iterator[Row]:
    """The file's rows as objects (a CSV row: header → text, empty cells left out). A file that
    cannot be read raises `ImportError_` with the line where it stopped."""
    text = io.TextIOWrapper(
        io.BufferedReader(_Counting(fh, on_bytes), 1 << 16), encoding="utf-8-sig", newline=""
    )
    if fmt == "jsonl":
        yield from _jsonl_rows(text)
    else:
        yield from _csv_rows(text, delimiter)


class _Counting(io.RawIOBase):
    """Passes reads through, telling `on_bytes` how far the file has been read."""

    def __init__(self, fh: IO[bytes], on_bytes: Callable[[int], None] | None) -> None:
        self.fh = fh
        self.on_bytes = on_bytes
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.fh.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.done += n
        if self.on_bytes is not None:
            self.on_bytes(self.done)
        return n


def _file_error(line: int, code: str, message: str) -> ImportError_:
    return ImportError_(
        {
            "status": "failed",
            "rows": 0,
            "errorCount": 1,
            "errors": [_error(0, line, "", code, message)],
        }
    )


def _jsonl_rows(text: Any) -> Iterator[Row]:
    number = 0
    line = 0
    try:
        for raw in text:
            line += 1
            if not raw.strip():
                continue
            number += 1
            try:
                obj = decode_any(raw.encode())
            except (msgspec.DecodeError, RecursionError) as exc:
                obj = _Unreadable(str(exc))
            yield Row(number, line, obj)
    except UnicodeDecodeError:
        raise _file_error(line + 1, "invalid_encoding", "Expected UTF-8 text") from None


class _Unreadable(msgspec.Struct):
    reason: str


def _csv_rows(text: Any, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise _file_error(
                1, "invalid_header", f"Expected each column once; repeated: {', '.join(dupes)}"
            )
        if any(not h for h in header):
            raise _file_error(1, "invalid_header", "Expected a name for every column of the header")
        number = 0
        start = reader.line_num + 1
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                start = reader.line_num + 1
                continue
            number += 1
            if len(cells) != len(header):
                obj: Any = _Unreadable(
                    f"Expected {len(header)} cells (as the header); received {len(cells)}"
                )
            else:
                obj = {h: c for h, c in zip(header, cells, strict=True) if c != ""}
            yield Row(number, start, obj)
            start = reader.line_num + 1
    except UnicodeDecodeError:
        raise _file_error(reader.line_num + 1, "invalid_encoding", "Expected UTF-8 text") from None
    except csv.Error as exc:
        raise _file_error(reader.line_num, "invalid_csv", f"Expected CSV: {exc}") from None


# --- checking -------------------------------------------------------------------------------


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
        out.append(_error(row.number, row.line, field, e["code"], e["message"], value))
    return out


def _check_product_row(
    row: Row, ctx: CheckContext, csv_cells: bool
) -> tuple[str, bytes] | list[dict[str, Any]]:
    obj = dict(row.obj)
    unknown = [k for k in obj if k not in _PRODUCT_FIELDS]
    if unknown:
        return [
            _error(
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
        for k in _NUMBER_FIELDS & typed.keys():
            value = read_text(typed[k])
            if value is None or isinstance(value, Unreadable):
                return None
            typed[k] = value
        for k in _INT_FIELDS & typed.keys():
            if not _WHOLE.match(typed[k]):
                return None
            typed[k] = int(typed[k])
        for k in _BOOL_FIELDS & typed.keys():
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
            _error(
                row.number,
                row.line,
                "_email",
                "missing_field",
                "Missing required field `_email` (the contact's e-mail)",
            )
        ]
    if len(given) > 1:
        return [
            _error(
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
            _error(
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
                _error(
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
            raise _file_error(
                row.line, "too_many_rows", f"Expected at most {MAX_ROWS} rows in a file; split it"
            )
        if isinstance(row.obj, _Unreadable):
            found: Any = [_error(row.number, row.line, "", "invalid_row", row.obj.reason)]
        elif not isinstance(row.obj, dict):
            found = [
                _error(row.number, row.line, "", "not_an_object", "Expected a JSON object", row.obj)
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
        raise _file_error(
            0, "invalid_value", f"Expected one of {', '.join(KINDS)}; received {kind!r}"
        )
    if fmt not in FORMATS:
        raise _file_error(
            0, "invalid_value", f"Expected a format among {', '.join(FORMATS)}; received {fmt!r}"
        )
    if len(delimiter) != 1:
        raise _file_error(
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


# --- writing --------------------------------------------------------------------------------


def begin(
    conn: Conn, store_id: str, import_id: str, checked: Checked, source: str | None, now: int
) -> None:
    """The import's row, `writing` (its own transaction, before the first chunk)."""
    new = stored.NewImport(import_id, store_id, checked.kind, source, checked.rows, now)
    stored.begin(conn, new, len(checked.records))


def record_failed(
    conn: Conn,
    store_id: str,
    import_id: str,
    report: dict[str, Any],
    source: str | None,
    now: int,
) -> None:
    """A file refused whole (its errors), for `GET /api/imports/{id}` and the dashboard."""
    kind = report.get("type") or ""
    new = stored.NewImport(import_id, store_id, kind, source, report.get("rows") or 0, now)
    errors = dumps(report.get("errors") or [])
    stored.record_failed(conn, new, report.get("errorCount") or 0, errors)


def chunks(checked: Checked) -> list[list[str]]:
    keys = list(checked.records)
    return [keys[i : i + WRITE_BATCH] for i in range(0, len(keys), WRITE_BATCH)]


@dataclass(frozen=True)
class ChunkWrite:
    """One chunk of an import to write: a step of `plan`, called with the connection of its
    transaction and the time."""

    store_id: str
    import_id: str
    number: int
    kind: str
    keys: list[str]
    records: dict[str, bytes]

    def __call__(self, conn: Conn, now: int) -> dict[str, int]:
        """The chunk in the caller's transaction, journalled; its counts."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        if self.kind == "products":
            journal = _write_products(conn, self, now, counts)
        else:
            journal = _write_contacts(conn, self, now, counts)
        for key, before in journal:
            stored.journal(conn, self.import_id, self.number, key, now, before)
        stored.count(
            conn, self.import_id, counts["created"], counts["updated"], counts["unchanged"], now
        )
        return counts


def finish(conn: Conn, import_id: str, now: int) -> dict[str, Any] | None:
    """The import is whole: `finished` (its journal is dropped afterwards, chunk by chunk)."""
    stored.mark_finished(conn, import_id, now)
    return report_of(conn, import_id)


def drop_journal(conn: Conn, import_id: str, number: int) -> None:
    stored.drop_journal(conn, import_id, number)


def undo_chunk(conn: Conn, store_id: str, import_id: str, number: int, kind: str) -> int:
    """Put back what one chunk changed, where nothing changed it since (a product or contact
    that traffic wrote after the chunk keeps what traffic wrote; a contact the chunk created
    that has been seen since (trackers, events, carts, purchases) is kept); the rows undone."""
    done = 0
    for j in stored.journal_of(conn, import_id, number):
        before = None if j.before is None else loads(j.before)
        if kind == "products":
            product = None if before is None else stored.ProductRow(*before)
            done += stored.undo_product(conn, store_id, j.key, j.written_at, product)
        else:
            contact = None if before is None else stored.ContactRow(j.key, *before)
            done += stored.undo_contact(conn, store_id, j.key, j.written_at, contact)
    drop_journal(conn, import_id, number)
    return done


def mark_undone(conn: Conn, import_id: str, reason: str, now: int) -> None:
    errors = dumps([{"code": "storage_unavailable", "message": reason}])
    stored.mark_undone(conn, import_id, errors, now)


def journal_chunks(conn: Conn, import_id: str) -> list[int]:
    return stored.journal_chunks(conn, import_id)


STALE_US = 60_000_000
"""An import whose writer has not written a chunk for this long died: it is undone."""


def stale_imports(conn: Conn, store_id: str, now: int) -> list[tuple[str, str]]:
    """(id, kind) of the store's imports left `writing` by a writer that stopped."""
    return stored.stale(conn, store_id, now - STALE_US)


def _report(row: stored.ImportRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.kind,
        "status": row.status,
        "source": row.source,
        "rows": row.row_count,
        "records": row.records,
        "created": row.created,
        "updated": row.updated,
        "unchanged": row.unchanged,
        "errorCount": row.error_count,
        "errors": row.errors or [],
        "startedAt": iso(row.started_at),
        "finishedAt": iso(row.finished_at),
    }


def report_of(conn: Conn, import_id: str, store_id: str | None = None) -> dict[str, Any] | None:
    row = stored.one(conn, import_id, store_id)
    return _report(row) if row else None


def recent_imports(conn: Conn, store_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return [_report(r) for r in stored.recent(conn, store_id, limit)]


def _write_products(
    conn: Conn, chunk: ChunkWrite, now: int, counts: dict[str, int]
) -> list[tuple[str, str | None]]:
    store_id, keys, records = chunk.store_id, chunk.keys, chunk.records
    found = stored.products(conn, store_id, keys)
    inserts: list[tuple[str, stored.ProductRow]] = []
    updates: list[tuple[str, stored.ProductRow]] = []
    journal: list[tuple[str, str | None]] = []
    for key in keys:
        row = loads(records[key])
        hit = found.get(key)
        if hit is None:
            data = row
            availability = data.get("availability") or "instock"
        else:
            data = {**(loads(hit.data) or {}), **row}
            availability = data.get("availability") or hit.availability or "instock"
        price = money_to_db(_decimal(data["unitPrice"]))
        text = dumps(data)
        if hit is None:
            inserts.append((key, stored.ProductRow(data["name"], price, availability, text, now)))
            journal.append((key, None))
        elif (hit.name, hit.unit_price, hit.availability, loads(hit.data)) != (
            data["name"],
            price,
            availability,
            loads(text),
        ):
            updates.append((key, stored.ProductRow(data["name"], price, availability, text, now)))
            journal.append(
                (key, dumps([hit.name, hit.unit_price, hit.availability, hit.data, hit.updated_at]))
            )
        else:
            counts["unchanged"] += 1
    stored.write_products(conn, store_id, inserts, updates)
    counts["created"] += len(inserts)
    counts["updated"] += len(updates)
    return journal


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _write_contacts(
    conn: Conn, chunk: ChunkWrite, now: int, counts: dict[str, int]
) -> list[tuple[str, str | None]]:
    store_id, keys, records = chunk.store_id, chunk.keys, chunk.records
    found = stored.contacts(conn, store_id, keys)
    inserts: list[tuple[str, stored.ContactRow]] = []
    updates: list[stored.ContactRow] = []
    journal: list[tuple[str, str | None]] = []
    for email in keys:
        row = loads(records[email])
        hit = found.get(email)
        if hit is None:
            cid = new_id(now)
            inserts.append((email, stored.ContactRow(cid, dumps(row), now)))
            journal.append((cid, None))
            continue
        current = loads(hit.fields) or {}
        merged = {**current, **row}
        if merged == current:
            counts["unchanged"] += 1
        else:
            updates.append(stored.ContactRow(hit.id, dumps(merged), now))
            journal.append((hit.id, dumps([hit.fields, hit.updated_at])))
    stored.write_contacts(conn, store_id, inserts, updates)
    for email, c in inserts:
        timeline.add(conn, store_id, c.id, now, "entity-created", {"email": email, "import": True})
    counts["created"] += len(inserts)
    counts["updated"] += len(updates)
    return journal


# --- the sequence of transactions -----------------------------------------------------------

Step = tuple[Callable[[Conn, int], Any], int]
"""A write to run in a transaction of its own, and its weight (rows) for the group committer."""


def plan(
    store_id: str, checked: Checked, source: str | None, import_id: str
) -> Generator[Step, Any, dict[str, Any]]:
    """The transactions of an import, in order: undo the store's stale imports, begin, one
    per chunk, finish, then drop the journal. Each `yield` gets the step's result back."""
    stale = yield (lambda c, now: stale_imports(c, store_id, now)), 1
    for old_id, kind in stale:
        yield from undo_plan(store_id, old_id, kind, "the importing process stopped")
    yield (lambda c, now: begin(c, store_id, import_id, checked, source, now)), 1
    parts = chunks(checked)
    for number, keys in enumerate(parts):
        yield (
            ChunkWrite(store_id, import_id, number, checked.kind, keys, checked.records),
            len(keys),
        )
    report = yield (lambda c, now: finish(c, import_id, now)), 1
    for number in range(len(parts)):
        yield partial(_drop_journal_at, import_id, number), WRITE_BATCH
    return report  # type: ignore[no-any-return]


def _drop_journal_at(import_id: str, number: int, conn: Conn, now: int) -> None:
    drop_journal(conn, import_id, number)


def _undo_chunk_at(
    store_id: str, import_id: str, number: int, kind: str, conn: Conn, now: int
) -> int:
    return undo_chunk(conn, store_id, import_id, number, kind)


def undo_plan(store_id: str, import_id: str, kind: str, reason: str) -> Generator[Step, Any, None]:
    """Undo what an import wrote, chunk by chunk, last first; then mark it `undone`."""
    numbers = yield (lambda c, now: journal_chunks(c, import_id)), 1
    for number in numbers:
        yield partial(_undo_chunk_at, store_id, import_id, number, kind), WRITE_BATCH
    yield (lambda c, now: mark_undone(c, import_id, reason, now)), 1


def drive(steps: Generator[Step, Any, Any], transact: Callable[[Step], Any]) -> Any:
    """Run the steps one after the other, each with `transact` (synchronous)."""
    result = None
    try:
        while True:
            step = steps.send(result)
            result = transact(step)
    except StopIteration as stop:
        return stop.value


def run(
    transact: Callable[[Step], Any],
    store_id: str,
    checked: Checked,
    source: str | None,
    import_id: str,
) -> dict[str, Any]:
    """Write a checked file, synchronously (the CLI): all of it, or, if a transaction fails,
    none of it (what was written is undone, and the error raised)."""
    try:
        return drive(plan(store_id, checked, source, import_id), transact)  # type: ignore[no-any-return]
    except Exception as exc:
        try:
            drive(undo_plan(store_id, import_id, checked.kind, str(exc)), transact)
        except Exception:
            pass  # storage is still gone: the next import undoes it (`stale_imports`)
        raise


def check_context(now: datetime, currency: str, domains: list[str]) -> CheckContext:
    return CheckContext(now=now, currency=currency, domains=domains)
