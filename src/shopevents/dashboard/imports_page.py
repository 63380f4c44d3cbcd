"""The dashboard's *Import* page (`/stores/{id}/imports`): upload a CSV or JSON Lines file of
products or contacts; it is imported as `POST /api/imports` does (checked whole first, then
written, nothing half-imported), and the page shows the report (each bad row's line, field,
what was expected and what came) and the store's last imports. The routes use the
dashboard's own page machinery (login, CSRF, store), passed in by `dashboard.routes`."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from shopevents.api.imports_routes import run_import
from shopevents.domain import imports
from shopevents.errors import StorageUnavailable


def routes(ctx: Any, prefix: str, page: Any, render: Any, read: Any) -> list[Route]:
    """`prefix` is the store's path pattern (`/stores/{store_id}`)."""

    async def show(
        v: Any, status: int = 200, report: dict[str, Any] | None = None, error: str = ""
    ) -> Response:
        store = v.store
        recent = await read(lambda c: imports.recent_imports(c, store.id, 20))
        return render(
            v,
            "imports.html",
            status,
            active="imports",
            recent=recent,
            report=report,
            error=error,
            kinds=imports.KINDS,
        )

    async def form_page(v: Any) -> Response:
        return await show(v)

    async def upload(v: Any) -> Response:
        kind = v.field("type")
        upload = v.form.get("file") if v.form is not None else None
        if kind not in imports.KINDS:
            return await show(v, 422, error="Choose what the file holds: products or contacts.")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await show(v, 422, error="Choose a file to import.")
        fmt = imports.guess_format(upload.filename, upload.content_type)
        if fmt is None:
            return await show(
                v, 422, error="The file's name should end in .csv or .jsonl (JSON Lines)."
            )
        delimiter = v.field("delimiter") or ","
        if len(delimiter) != 1:
            return await show(v, 422, error="The CSV delimiter is one character, such as , or ;")
        try:
            status, report = await run_import(
                ctx, v.store, upload.file, kind, fmt, delimiter, upload.filename
            )
        except StorageUnavailable:
            return await show(
                v,
                503,
                error="The database is unavailable; nothing of the file was kept. Try again.",
            )
        finally:
            await upload.close()
        return await show(v, 200 if status == 201 else 422, report=report)

    return [
        Route(prefix + "/imports", page(form_page), methods=["GET"]),
        Route(prefix + "/imports", page(upload), methods=["POST"]),
    ]
