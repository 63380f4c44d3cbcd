"""The OpenAPI 3.1 document of the REST API, generated from the route table (`table.KEYED`),
the operations of each route (`openapi_*.py`: summaries, parameters, errors) and the
Structs the handlers answer with (`shapes/`) and read their bodies with (`shapes/requests.py`,
`shapes/adjustment_requests.py`, `schema.models`)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import msgspec

from shopevents.api import (
    openapi_bulk,
    openapi_catalog,
    openapi_events,
    openapi_people,
    openapi_reports,
    openapi_sales,
    openapi_webhooks,
)
from shopevents.api.openapi_common import COMMON, ERROR, Op, json_body
from shopevents.api.shapes.base import Answer, Body
from shopevents.api.table import KEYED
from shopevents.schema.jsonschema import money_schema

OPERATIONS: dict[tuple[str, str], Op] = {
    **openapi_sales.OPERATIONS,
    **openapi_people.OPERATIONS,
    **openapi_catalog.OPERATIONS,
    **openapi_bulk.OPERATIONS,
    **openapi_events.OPERATIONS,
    **openapi_webhooks.OPERATIONS,
    **openapi_reports.OPERATIONS,
}
"""Each route of the table (method, path as in the table) → its operation."""

ALIASES = {("POST", "/api/purchases")}
"""Routes served and not documented: the same operation under another spelling."""

_PARAM = re.compile(r"\{(\w+?)(?::\w+)?\}")


def documented_path(path: str) -> str:
    """A table path as the document spells it: `{purchase_id:text}` → `{purchaseId}`."""
    return _PARAM.sub(lambda p: "{" + _camel(p.group(1)) + "}", path)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def request_types() -> list[type[msgspec.Struct]]:
    """Every Struct an operation reads its JSON body with, in the table's order."""
    out: list[type[msgspec.Struct]] = []
    for method, path, _ in KEYED:
        if (method, path) in ALIASES:
            continue
        kind = OPERATIONS[(method, path)].request
        if kind is not None and kind not in out:
            out.append(kind)
    return out


def answer_types() -> list[type[Answer]]:
    """Every Struct an operation answers with, in the table's order."""
    out: list[type[Answer]] = []
    for method, path, _ in KEYED:
        if (method, path) in ALIASES:
            continue
        for _, kind in OPERATIONS[(method, path)].answers.values():
            if kind is not None and kind not in out:
                out.append(kind)
    return out


@cache
def _schemas() -> tuple[dict[type, dict[str, Any]], dict[str, Any]]:
    types: list[type] = [*request_types(), *answer_types()]
    refs, components = msgspec.json.schema_components(
        types, schema_hook=money_schema, ref_template="#/components/schemas/{name}"
    )
    for kind in types:
        if issubclass(kind, Body):
            kind.refine_schema(components[kind.__name__])
    return dict(zip(types, refs, strict=True)), {**components, "Error": ERROR}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(path: str, op: Op) -> dict[str, Any]:
    refs, _ = _schemas()
    responses: dict[str, Any] = {}
    for status, (description, kind) in op.answers.items():
        responses[str(status)] = (
            {"description": description} if kind is None else _json(description, refs[kind])
        )
    for status, raw in op.raw.items():
        responses[str(status)] = raw
    for status, description in {**COMMON, **op.errors}.items():
        responses[str(status)] = _json(description, {"$ref": "#/components/schemas/Error"})
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": op.paths[name][1],
            "description": op.paths[name][0],
        }
        for name in _PARAM.findall(documented_path(path))
    ] + list(op.query)
    out: dict[str, Any] = {"summary": op.summary, "operationId": op.operation_id}
    if params:
        out["parameters"] = params
    if op.request is not None:
        out["requestBody"] = json_body(refs[op.request], op.request_required)
    elif op.body is not None:
        out["requestBody"] = op.body
    out["responses"] = responses
    return out


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, _ in KEYED:
        if (method, path) in ALIASES:
            continue
        operation = _operation(path, OPERATIONS[(method, path)])
        paths.setdefault(documented_path(path), {})[method.lower()] = operation
    return paths


def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "shopevents REST API",
            "version": "1",
            "description": "Connectif-shaped server API. Authenticate with "
            "`Authorization: apiKey {keyId}:{keySecret}`.",
        },
        "servers": [{"url": base_url}],
        "security": [{"apiKey": []}],
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`apiKey {keyId}:{keySecret}`",
                }
            },
            "schemas": _schemas()[1],
        },
        "paths": _paths(),
    }
