"""Bulk import (`POST /api/imports`, `GET /api/imports[/{id}]`) and streamed exports
(`GET /api/exports/{what}`).

An import is read and checked whole in a thread (the event loop keeps serving), then written
through the group committer a chunk at a time (`import_writes.WRITE_BATCH` rows, weighed as
that many events, so a chunk has a transaction of its own and ingest requests go between
chunks); if a chunk cannot be written, what the import wrote is undone (`domain.import_plan`)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC
from functools import partial
from typing import IO, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from shopevents.api.auth import store_of
from shopevents.api.params import int_param, invalid, text_param
from shopevents.api.shapes.base import answer
from shopevents.api.shapes.operations import ImportList, ImportReport
from shopevents.context import AppContext
from shopevents.domain import (
    import_checks,
    import_errors,
    import_files,
    import_plan,
    import_records,
)
from shopevents.errors import ApiError, FieldError, StorageUnavailable, validation_error
from shopevents.ids import new_id
from shopevents.reports.timebuckets import local_today, make_range
from shopevents.runtime import runtime
from shopevents.storage import exports
from shopevents.storage.stores import StoreRecord

MAX_IMPORT_BYTES = 512 << 20
"""Largest import file (512 MB)."""
SPOOL_BYTES = 8 << 20
PAUSE_SECONDS = 0.001
YIELD_SECONDS = 0.002
EXPORT_KINDS = {
    "events": "events",
    "activities": "events",
    "purchases": "purchases",
    "contacts": "contacts",
}
MAX_EXPORT_PAGE = 10_000
"""Most rows in one page when `limit` is given (without it, the whole range is streamed)."""
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def check_context(ctx: AppContext, store: StoreRecord) -> Any:
    return import_checks.check_context(ctx.clock.now(), store.currency, store.domains)


async def run_import(
    ctx: AppContext,
    store: StoreRecord,
    fh: IO[bytes],
    kind: str,
    fmt: str,
    delimiter: str,
    source: str | None,
) -> tuple[int, dict[str, Any]]:
    """Check the file, then write it; (HTTP status, report). 422: the file was refused whole
    (its errors listed, nothing written); 201: written. StorageUnavailable: what was written
    is undone (or, if storage stays away, undone by the next import)."""
    import_id = new_id(ctx.now_us())
    check = check_context(ctx, store)
    try:
        checked = await asyncio.to_thread(
            import_checks.read_and_check, fh, kind, fmt, check, delimiter=delimiter, on_row=_pause
        )
    except import_errors.ImportError_ as exc:
        report = {"type": kind, **exc.report}
        await ctx.write(
            lambda c, now: import_records.record_failed(c, store.id, import_id, report, source, now)
        )
        return 422, {"id": import_id, **report}
    if checked.error_count:
        report = import_checks.failed_report(checked)
        await ctx.write(
            lambda c, now: import_records.record_failed(c, store.id, import_id, report, source, now)
        )
        return 422, {"id": import_id, **report}

    async def transact(step: import_plan.Step) -> Any:
        fn, weight = step
        result = await ctx.write(fn, weight=weight)
        # A heavy write runs at once inside `submit` (on SQLite on the loop) and its future is
        # done before it is awaited, so without this the whole file would be written without
        # the loop getting a turn: ingest requests would wait for the end of the import.
        await asyncio.sleep(YIELD_SECONDS)
        return result

    steps = import_plan.plan(store.id, checked, source, import_id)
    try:
        report = await _drive(steps, transact)
    except StorageUnavailable as exc:
        try:
            await _drive(
                import_plan.undo_plan(store.id, import_id, checked.kind, str(exc)), transact
            )
        except StorageUnavailable:
            pass  # undone by the next import of the store
        raise
    return 201, report


def _pause(rows: int) -> None:
    """Every 100 rows checked, the checking thread lets go of the GIL for a moment: without
    it the event loop waits up to the switch interval (5 ms) each time it takes the GIL back
    (every socket call, every SQLite statement), and ingest answers slow down many times."""
    time.sleep(PAUSE_SECONDS)


async def _drive(steps: Any, transact: Any) -> Any:
    result = None
    try:
        while True:
            step = steps.send(result)
            result = await transact(step)
    except StopIteration as stop:
        return stop.value


async def spool_body(request: Request, limit: int = MAX_IMPORT_BYTES) -> IO[bytes]:
    """The request body into a temporary file (memory up to 8 MB, then disk); `413` past
    `limit`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            "payload_too_large",
            f"The file is {declared} bytes; the limit is {limit}",
            headers={"Connection": "close"},
        )
    fh = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 (closed by the caller)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            fh.close()
            raise ApiError(
                "payload_too_large",
                f"The file is over the limit of {limit} bytes",
                headers={"Connection": "close"},
            )
        fh.write(chunk)
    fh.seek(0)
    return fh  # type: ignore[return-value]


async def post_import(request: Request) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    q = request.query_params
    kind, fmt, delimiter = q.get("type"), q.get("format"), q.get("delimiter") or ","
    source = text_param(request, "name")
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=20)
        except Exception as exc:  # a malformed form: the client's error, never a 500
            raise invalid("/file", f"Expected a multipart form with a `file`: {exc}") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise invalid(
                "/file", "Expected the file in a form field named `file`", "missing_field"
            )
        kind = str(form.get("type") or kind or "")
        fmt = str(form.get("format") or fmt or "") or None
        delimiter = str(form.get("delimiter") or delimiter)
        source = upload.filename or source
        fh: IO[bytes] = upload.file  # type: ignore[assignment]
        fmt = fmt or import_files.guess_format(upload.filename, upload.content_type)
    else:
        fmt = fmt or import_files.guess_format(source, ctype)
        fh = await spool_body(request)
    try:
        if kind not in import_files.KINDS:
            raise invalid(
                "/type", f"Expected one of {', '.join(import_files.KINDS)}; received {kind!r}"
            )
        if fmt not in import_files.FORMATS:
            raise invalid(
                "/format",
                f"Expected one of {', '.join(import_files.FORMATS)} (or a file name or "
                f"Content-Type that tells); received {fmt!r}",
            )
        if len(delimiter) != 1:
            raise invalid("/delimiter", f"Expected one character; received {delimiter!r}")
        status, report = await run_import(ctx, store, fh, kind, fmt, delimiter, source)
    finally:
        fh.close()
    if status == 422:
        errors = [
            {
                "code": e["code"],
                "path": f"/rows/{e['row']}" + (f"/{e['field']}" if e["field"] else ""),
                "message": e["message"],
                **{k: e[k] for k in ("row", "line", "field", "expected", "got")},
            }
            for e in report["errors"]
        ]
        raise validation_error(
            errors,
            f"{report['errorCount']} error(s) in the file; nothing was imported",
            {"import": report},
        )
    return answer(ImportReport, report, status)


async def get_import(request: Request) -> Response:
    store = await store_of(request)
    iid = request.path_params["import_id"]
    found = await runtime(request).read(lambda c: import_records.report_of(c, iid, store.id))
    if found is None:
        raise ApiError("not_found", f"No import {iid!r} in this store")
    return answer(ImportReport, found)


async def list_imports(request: Request) -> Response:
    store = await store_of(request)
    found = await runtime(request).read(lambda c: import_records.recent_imports(c, store.id, 50))
    return answer(ImportList, {"items": found})


async def get_export(request: Request) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    name = request.path_params["what"]
    what = EXPORT_KINDS.get(name)
    if what is None:
        raise ApiError("not_found", f"No export {name!r}; there are {', '.join(EXPORT_KINDS)}")
    q = request.query_params
    fmt = q.get("format") or "jsonl"
    if fmt not in MEDIA:
        raise invalid("/format", f"Expected one of csv, jsonl; received {fmt!r}")
    bounds = time_bounds(ctx, store, q.get("from"), q.get("to"))
    after = exports.parse_cursor(what, q.get("cursor"))
    if after is None:
        raise invalid("/cursor", "Expected a cursor from a previous page (X-Next-Cursor)")
    limit = int_param(request, "limit", 0, 0, MAX_EXPORT_PAGE)
    first = await ctx.read(
        lambda c: exports.page(c, what, store.id, after, bounds, limit or exports.PAGE)
    )
    headers = {}
    if limit and len(first) == limit:
        headers["X-Next-Cursor"] = str(first[-1][0])
    return StreamingResponse(
        _stream(ctx, what, store.id, fmt, bounds, first, limit),
        media_type=MEDIA[fmt],
        headers=headers,
    )


async def _stream(
    ctx: AppContext,
    what: str,
    store_id: str,
    fmt: str,
    bounds: tuple[int, int] | None,
    rows: list[Any],
    limit: int,
) -> AsyncIterator[bytes]:
    """The header (CSV), then page after page, each read when the previous one is sent."""
    if fmt == "csv":
        yield exports.csv_line(exports.HEADS[what]).encode()
    while rows:
        yield "".join(exports.lines(what, fmt, rows)).encode()
        if limit or len(rows) < exports.PAGE:
            return  # one page asked for, or the last page
        rows = await ctx.read(partial(_next_page, what, store_id, rows[-1][0], bounds))


def _next_page(
    what: str, store_id: str, after: Any, bounds: tuple[int, int] | None, conn: Any
) -> list[Any]:
    return exports.page(conn, what, store_id, after, bounds)


def time_bounds(
    ctx: AppContext, store: StoreRecord, from_: str | None, to_: str | None
) -> tuple[int, int] | None:
    """Local days of the store, as `shopevents export --from/--to`: none given, no bounds."""
    if not from_ and not to_:
        return None
    try:
        rng = make_range(
            store.timezone,
            local_today(store.timezone, ctx.clock.now().astimezone(UTC)),
            from_ or "1970-01-01",
            to_,
            "day",
        )
    except FieldError as exc:
        raise validation_error([exc]) from None
    return rng.start_us, rng.end_us
