"""An import's stored row (`domain.import_plan`): begun (`writing`), refused whole (`failed`,
with its errors) or `finished`; and its report, for `GET /api/imports`, the dashboard and the
CLI."""

from __future__ import annotations

from typing import Any

from shopevents.domain.import_checks import Checked
from shopevents.jsoncodec import dumps
from shopevents.storage import imports as stored
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso


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


def finish(conn: Conn, import_id: str, now: int) -> dict[str, Any] | None:
    """The import is whole: `finished` (its journal is dropped afterwards, chunk by chunk)."""
    stored.mark_finished(conn, import_id, now)
    return report_of(conn, import_id)


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
