"""JSON Schema of every model, generated from the msgspec Structs."""

from __future__ import annotations

from typing import Any

import msgspec

from shopevents.schema import models as m


def money_schema(t: type) -> dict[str, Any]:
    if t is m.Money:
        return {
            "type": "number",
            "minimum": 0,
            "exclusiveMaximum": 1_000_000_000_000,
            "description": "An exact decimal amount (more than 6 decimals are rounded, with a warning)",
        }
    raise NotImplementedError


def export() -> dict[str, Any]:
    names = list(m.MODELS)
    types = [m.MODELS[n] for n in names]
    (schemas, components) = msgspec.json.schema_components(
        types, schema_hook=money_schema, ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "shopevents models",
        "$defs": components,
        "models": dict(zip(names, schemas, strict=True)),
        "event": msgspec.json.schema(m.AnyEvent, schema_hook=money_schema),
    }
