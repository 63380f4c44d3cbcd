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

Its parts: `import_files` reads the rows, `import_checks` checks them, `import_writes` writes
a chunk, `import_records` keeps the import's row and report, `import_undo` undoes it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any

from shopevents.domain.import_checks import Checked
from shopevents.domain.import_records import begin, finish
from shopevents.domain.import_undo import (
    drop_journal,
    journal_chunks,
    mark_undone,
    stale_imports,
    undo_chunk,
)
from shopevents.domain.import_writes import WRITE_BATCH, ChunkWrite, chunks
from shopevents.storage.database import Conn

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
