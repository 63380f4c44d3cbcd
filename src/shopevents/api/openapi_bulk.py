"""The OpenAPI paths of bulk import, exports and the lists (`api/imports_routes.py`,
`api/reads_routes.py`)."""

from __future__ import annotations

from typing import Any

TEXT = {"type": "string", "maxLength": 254, "pattern": "^[^\\x00]*$"}
DAY = {"type": "string", "format": "date"}
ROW_ERROR = {
    "type": "object",
    "required": ["row", "line", "field", "code", "expected", "got", "message"],
    "properties": {
        "row": {"type": "integer", "description": "Data row, from 1 (0: the file itself)"},
        "line": {"type": "integer", "description": "Line of the file where the row starts"},
        "field": {"type": "string"},
        "code": {"type": "string"},
        "expected": {"type": "string"},
        "got": {"type": ["string", "null"]},
        "message": {"type": "string"},
    },
}
REPORT = {
    "type": "object",
    "required": [
        "status",
        "type",
        "rows",
        "created",
        "updated",
        "unchanged",
        "errorCount",
        "errors",
    ],
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["writing", "finished", "failed", "undone", "checked"]},
        "type": {"type": "string"},
        "source": {"type": ["string", "null"]},
        "rows": {"type": "integer"},
        "records": {"type": "integer"},
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "errorCount": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "startedAt": {"type": ["string", "null"]},
        "finishedAt": {"type": ["string", "null"]},
    },
}


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        out["description"] = description
    return out


def _page(items: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "nextCursor", "links"],
        "properties": {
            "items": {"type": "array", "items": items},
            "nextCursor": {"type": ["string", "null"]},
            "links": {"type": "object", "properties": {"next": {"type": ["string", "null"]}}},
        },
    }


def bulk_paths(common: dict[str, Any], resp: Any, err: Any) -> dict[str, Any]:
    limit = _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Items per page (50)")
    text_cursor = _q("cursor", TEXT, "The previous page's `nextCursor`")
    return {
        "/api/imports": {
            "post": {
                "summary": "Import products or contacts from a CSV or JSON Lines file: checked "
                "whole first (one bad row refuses the file, each error listed, nothing written), "
                "then written; idempotent, updated by productId / e-mail",
                "operationId": "importFile",
                "parameters": [
                    _q("type", {"enum": ["products", "contacts"]}, "Also a form field"),
                    _q("format", {"enum": ["csv", "jsonl"]}, "Else from the name or Content-Type"),
                    _q("delimiter", {"type": "string", "minLength": 1, "maxLength": 1}),
                    _q("name", TEXT, "The file's name, kept in the report"),
                ],
                "requestBody": {
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
                },
                "responses": {
                    "201": resp("Imported: the report", REPORT),
                    "413": err("The file is over 512 MB"),
                    **common,
                    "422": err(
                        "The file was refused whole: `errors` (with row, line, field, expected, "
                        "got) and `import` (the report); or a parameter is invalid"
                    ),
                },
            },
            "get": {
                "summary": "The store's last 50 imports",
                "operationId": "listImports",
                "responses": {
                    "200": resp(
                        "Reports, newest first",
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {"items": {"type": "array", "items": REPORT}},
                        },
                    ),
                    **common,
                },
            },
        },
        "/api/imports/{importId}": {
            "get": {
                "summary": "An import's report",
                "operationId": "getImport",
                "parameters": [
                    {
                        "name": "importId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": resp("The report", REPORT),
                    "404": err("No such import in this store"),
                    **common,
                },
            }
        },
        "/api/exports/{what}": {
            "get": {
                "summary": "Events (`activities`), purchases or contacts, streamed: the rows of "
                "`shopevents export`",
                "operationId": "exportRows",
                "parameters": [
                    {
                        "name": "what",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["events", "activities", "purchases", "contacts"]},
                    },
                    _q("format", {"enum": ["jsonl", "csv"]}),
                    _q(
                        "from",
                        DAY,
                        "First local day (events: received; purchases: purchase "
                        "date; contacts: created)",
                    ),
                    _q("to", DAY, "Last local day (at most 3,700 days after `from`)"),
                    _q(
                        "limit",
                        {"type": "integer", "minimum": 0, "maximum": 10000},
                        "One page of at most this many rows (0: the whole range, streamed)",
                    ),
                    _q(
                        "cursor",
                        {"type": "string", "maxLength": 64, "pattern": "^[^\\x00]*$"},
                        "The previous page's X-Next-Cursor",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The rows, a line each (CSV: a header first); "
                        "`X-Next-Cursor` when a page may have more after it",
                        "headers": {"X-Next-Cursor": {"schema": {"type": "string"}}},
                        "content": {
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "404": err("No such export"),
                    **common,
                },
            }
        },
        "/api/contacts": {
            "get": {
                "summary": "Identified contacts, oldest first, keyset-paged; by e-mail prefix, "
                "fragment or a custom field's value",
                "operationId": "listContacts",
                "parameters": [
                    limit,
                    text_cursor,
                    _q("emailPrefix", TEXT),
                    _q("q", TEXT, "A fragment of the e-mail"),
                    _q(
                        "field",
                        {"type": "string", "maxLength": 254, "pattern": "^[^:\\x00]+:[^\\x00]*$"},
                        "`fieldId:value`, a custom field's value compared as text",
                    ),
                ],
                "responses": {
                    "200": resp(
                        "A page of contacts", _page({"$ref": "#/components/schemas/Contact"})
                    ),
                    **common,
                },
            }
        },
        "/api/products": {
            "get": {
                "summary": "The catalog in productId order, keyset-paged; by a fragment of the "
                "id or name",
                "operationId": "listProducts",
                "parameters": [limit, text_cursor, _q("q", TEXT)],
                "responses": {
                    "200": resp(
                        "A page of products", _page({"$ref": "#/components/schemas/Product"})
                    ),
                    **common,
                },
            }
        },
        "/api/purchases": {
            "get": {
                "summary": "Purchases by purchase date, oldest first, keyset-paged",
                "operationId": "listPurchases",
                "parameters": [
                    limit,
                    _q(
                        "cursor",
                        {"type": "string", "pattern": "^[0-9]{1,18}-[0-9]{1,18}$"},
                        "The previous page's `nextCursor`",
                    ),
                    _q("from", DAY, "First local day of the store"),
                    _q("to", DAY, "Last local day (a range ending before it starts is empty)"),
                ],
                "responses": {
                    "200": resp(
                        "A page of purchases", _page({"$ref": "#/components/schemas/Purchase"})
                    ),
                    **common,
                },
            }
        },
    }
