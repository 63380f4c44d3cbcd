"""The OpenAPI operations of privacy: `DELETE /api/contacts/{email}`, the erasures' audit log and
the store's retention."""

from __future__ import annotations

from typing import Any

COUNTS = {
    "type": "object",
    "description": "Rows erased or emptied, per table",
    "additionalProperties": {"type": "integer", "minimum": 0},
}
ERASURE = {
    "type": "object",
    "required": ["id", "status", "actor", "requestedAt", "finishedAt", "counts"],
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["done", "pending"]},
        "actor": {
            "type": "string",
            "description": "Who asked: `api-key:{keyId}`, `cli`, `user:{name}`",
        },
        "requestedAt": {"type": "string", "format": "date-time"},
        "finishedAt": {"type": ["string", "null"], "format": "date-time"},
        "counts": COUNTS,
    },
}
OUTCOME = {
    "type": "object",
    "required": ["id", "status", "found", "counts"],
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["done", "pending"]},
        "found": {"type": "boolean", "description": "False when no contact had this e-mail"},
        "counts": COUNTS,
    },
}


RETENTION = {
    "type": "object",
    "required": ["retentionDays", "default", "prunedUntil"],
    "properties": {
        "retentionDays": {"type": "integer", "minimum": 1, "maximum": 3650},
        "default": {"type": "boolean", "description": "True: the server's default applies"},
        "prunedUntil": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "Requests received before this have had their raw body emptied",
        },
    },
}
RETENTION_PATCH = {
    "type": "object",
    "required": ["retentionDays"],
    "properties": {
        "retentionDays": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 3650,
            "description": "Days; null: the default (90)",
        }
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def erase_contact(email: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": "Erase a contact and every stored copy of its personal data",
        "operationId": "eraseContact",
        "parameters": [email],
        "responses": {
            "200": _json("Erased (or nothing to erase: `found` false); idempotent", OUTCOME),
            "202": _json("Large: the worker erases it; follow /api/erasures/{id}", OUTCOME),
            **common,
        },
    }


def erasure_paths(common: dict[str, Any], not_found: dict[str, Any]) -> dict[str, Any]:
    return {
        "/api/store/retention": {
            "get": {
                "summary": "How long raw request bodies and quarantined events are kept",
                "operationId": "getRetention",
                "responses": {"200": _json("The retention", RETENTION), **common},
            },
            "patch": {
                "summary": "Set how long raw request bodies and quarantined events are kept",
                "operationId": "setRetention",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": RETENTION_PATCH}},
                },
                "responses": {
                    "200": _json("The retention", RETENTION),
                    "400": not_found | {"description": "The body is not JSON"},
                    **common,
                },
            },
        },
        "/api/erasures": {
            "get": {
                "summary": "The store's erasures (the audit log), newest first",
                "operationId": "listErasures",
                "responses": {
                    "200": _json(
                        "The erasures",
                        {
                            "type": "object",
                            "required": ["erasures"],
                            "properties": {"erasures": {"type": "array", "items": ERASURE}},
                        },
                    ),
                    **common,
                },
            }
        },
        "/api/erasures/{erasureId}": {
            "get": {
                "summary": "One erasure of the audit log",
                "operationId": "getErasure",
                "parameters": [
                    {
                        "name": "erasureId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _json("The erasure", ERASURE), "404": not_found, **common},
            }
        },
    }
