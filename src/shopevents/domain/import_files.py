"""Reading an import's file (`domain.import_plan`): its format from its name or content type,
and its rows as objects, from CSV (header → text, empty cells left out) or JSON Lines,
each with its row number and the line where it starts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import IO, Any

import msgspec

from shopevents.domain.import_errors import file_error
from shopevents.schema.numbers import decode_any

KINDS = ("products", "contacts")
FORMATS = ("csv", "jsonl")


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


class Row(msgspec.Struct):
    number: int  # data row, from 1
    line: int  # line of the file where the row starts
    obj: Any


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
                obj = UnreadableRow(str(exc))
            yield Row(number, line, obj)
    except UnicodeDecodeError:
        raise file_error(line + 1, "invalid_encoding", "Expected UTF-8 text") from None


class UnreadableRow(msgspec.Struct):
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
            raise file_error(
                1, "invalid_header", f"Expected each column once; repeated: {', '.join(dupes)}"
            )
        if any(not h for h in header):
            raise file_error(1, "invalid_header", "Expected a name for every column of the header")
        number = 0
        start = reader.line_num + 1
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                start = reader.line_num + 1
                continue
            number += 1
            if len(cells) != len(header):
                obj: Any = UnreadableRow(
                    f"Expected {len(header)} cells (as the header); received {len(cells)}"
                )
            else:
                obj = {h: c for h, c in zip(header, cells, strict=True) if c != ""}
            yield Row(number, start, obj)
            start = reader.line_num + 1
    except UnicodeDecodeError:
        raise file_error(reader.line_num + 1, "invalid_encoding", "Expected UTF-8 text") from None
    except csv.Error as exc:
        raise file_error(reader.line_num, "invalid_csv", f"Expected CSV: {exc}") from None
