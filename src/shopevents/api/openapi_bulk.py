"""The OpenAPI operations of bulk import and of exports (`imports_routes`)."""

from __future__ import annotations

from shopevents.api.openapi_common import DAY, NO_NUL, SEARCH_TEXT, Op, query
from shopevents.api.shapes.operations import ImportList, ImportReport

IMPORT = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "type": {"enum": ["products", "contacts"]},
                    "format": {"enum": ["csv", "jsonl"]},
                    "delimiter": {"type": "string"},
                    "file": {"type": "string", "format": "binary"},
                },
            }
        },
    },
}
"""The import's request body, as a request body object: a file (CSV or JSON lines) or a
multipart form, not JSON, so no Struct describes it (the handler reads it as a file)."""

EXPORTED = {
    "description": "The rows, a line each (CSV: a header first); `X-Next-Cursor` when a page "
    "may have more after it",
    "headers": {"X-Next-Cursor": {"schema": {"type": "string"}}},
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
    },
}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/api/imports"): Op(
        "Import products or contacts from a CSV or JSON Lines file: checked whole first (one "
        "bad row refuses the file, each error listed, nothing written), then written; "
        "idempotent, updated by productId / e-mail",
        "importFile",
        {201: ("Imported: the report", ImportReport)},
        {
            413: "The file is over 512 MB",
            422: "The file was refused whole: `errors` (with row, line, field, expected, got) "
            "and `import` (the report); or a parameter is invalid",
        },
        query=(
            query("type", {"enum": ["products", "contacts"]}, "Also a form field"),
            query("format", {"enum": ["csv", "jsonl"]}, "Else from the name or Content-Type"),
            query(
                "delimiter", {"type": "string", "minLength": 1, "maxLength": 1, "pattern": NO_NUL}
            ),
            query("name", SEARCH_TEXT, "The file's name, kept in the report"),
        ),
        body=IMPORT,
    ),
    ("GET", "/api/imports"): Op(
        "The store's last 50 imports", "listImports", {200: ("Reports, newest first", ImportList)}
    ),
    ("GET", "/api/imports/{import_id}"): Op(
        "An import's report",
        "getImport",
        {200: ("The report", ImportReport)},
        {404: "No such import in this store"},
        paths={"importId": ("The import's id", {"type": "string", "pattern": NO_NUL})},
    ),
    ("GET", "/api/exports/{what}"): Op(
        "Events (`activities`), purchases or contacts, streamed: the rows of `shopevents export`",
        "exportRows",
        {},
        {404: "No such export"},
        query=(
            query("format", {"enum": ["jsonl", "csv"]}),
            query(
                "from",
                DAY,
                "First local day (events: received; purchases: purchase date; contacts: created)",
            ),
            query("to", DAY, "Last local day (at most 3,700 days after `from`)"),
            query(
                "limit",
                {"type": "integer", "minimum": 0, "maximum": 10000},
                "One page of at most this many rows (0: the whole range, streamed)",
            ),
            query(
                "cursor",
                {"type": "string", "maxLength": 64, "pattern": NO_NUL},
                "The previous page's X-Next-Cursor",
            ),
        ),
        paths={
            "what": (
                "What to export",
                {"enum": ["events", "activities", "purchases", "contacts"]},
            )
        },
        raw={200: EXPORTED},
    ),
}
