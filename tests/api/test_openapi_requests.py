"""Each JSON request body of the OpenAPI document is the schema of the Struct its handler
reads the body with: generated from that Struct (and nothing else), and the handler's module
passes that Struct to a reader (`conform`, `decode_model`, a decoder)."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import msgspec
import pytest

from shopevents.api import bodies
from shopevents.api.openapi import ALIASES, OPERATIONS, documented_path, openapi_document
from shopevents.api.shapes.base import Body
from shopevents.api.table import KEYED
from shopevents.schema import verdicts
from shopevents.schema.jsonschema import money_schema

READERS: dict[str, ModuleType] = {
    "EntityFields": verdicts,  # contacts_routes reads it through decode_entity
    "PurchaseCreation": bodies,  # purchases_routes reads it through decode_purchase
}
"""A Struct a handler reads through a function of another module → that module."""

DOC = openapi_document("http://test")
ROUTES = [
    (method, path, endpoint) for method, path, endpoint in KEYED if (method, path) not in ALIASES
]


def _passed_to_a_call(module: ModuleType, name: str) -> bool:
    """Whether some call in `module` takes the Struct `name` (`Name` or `m.Name`) as an
    argument."""
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Call):
            for arg in node.args:
                if (isinstance(arg, ast.Name) and arg.id == name) or (
                    isinstance(arg, ast.Attribute) and arg.attr == name
                ):
                    return True
    return False


def _documented(method: str, path: str) -> dict[str, object] | None:
    return DOC["paths"][documented_path(path)][method.lower()].get("requestBody")


@pytest.mark.parametrize(
    ("method", "path", "endpoint"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_a_json_body_is_the_schema_of_the_struct_the_handler_reads(
    method: str, path: str, endpoint: object
) -> None:
    op = OPERATIONS[(method, path)]
    body = _documented(method, path)
    if op.request is None:
        assert body is None or "application/json" not in body["content"], (
            "a JSON request body written by hand: describe it with a Struct (Op.request)"
        )
        return
    kind = op.request
    assert body is not None
    assert body["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{kind.__name__}"
    }
    _, components = msgspec.json.schema_components(
        [kind], schema_hook=money_schema, ref_template="#/components/schemas/{name}"
    )
    if issubclass(kind, Body):
        kind.refine_schema(components[kind.__name__])
    for name, schema in components.items():
        assert DOC["components"]["schemas"][name] == schema
    module = inspect.getmodule(endpoint)
    assert module is not None
    reader = READERS.get(kind.__name__, module)
    assert _passed_to_a_call(reader, kind.__name__), (
        f"{module.__name__} does not read its body with {kind.__name__}"
    )
