"""The dashboard's *Import* page (`/stores/{id}/imports`): upload a CSV or JSON Lines file of
products or contacts; it is imported as `POST /api/imports` does (checked whole first, then
written, nothing half-imported), and the page shows the report (each bad row's line, field,
what was expected and what came) and the store's last imports."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from shopevents.api.imports_routes import run_import
from shopevents.dashboard.site import View, store_view, view
from shopevents.domain import import_files, import_records
from shopevents.errors import StorageUnavailable


async def show(
    v: View, status: int = 200, report: dict[str, Any] | None = None, error: str = ""
) -> Response:
    store = v.open_store
    recent = await v.read(lambda c: import_records.recent_imports(c, store.id, 20))
    return v.render(
        "imports.html",
        status,
        active="imports",
        recent=recent,
        report=report,
        error=error,
        kinds=import_files.KINDS,
    )


async def form_page(request: Request) -> Response:
    return await show(view(request))


async def upload(request: Request) -> Response:
    v, store = store_view(request)
    kind = v.field("type")
    file = v.form.get("file") if v.form is not None else None
    if kind not in import_files.KINDS:
        return await show(v, 422, error="Choose what the file holds: products or contacts.")
    if not isinstance(file, UploadFile) or not file.filename:
        return await show(v, 422, error="Choose a file to import.")
    fmt = import_files.guess_format(file.filename, file.content_type)
    if fmt is None:
        return await show(
            v, 422, error="The file's name should end in .csv or .jsonl (JSON Lines)."
        )
    delimiter = v.field("delimiter") or ","
    if len(delimiter) != 1:
        return await show(v, 422, error="The CSV delimiter is one character, such as , or ;")
    try:
        status, report = await run_import(
            v.ctx, store, file.file, kind, fmt, delimiter, file.filename
        )
    except StorageUnavailable:
        return await show(
            v,
            503,
            error="The database is unavailable; nothing of the file was kept. Try again.",
        )
    finally:
        await file.close()
    return await show(v, 200 if status == 201 else 422, report=report)
