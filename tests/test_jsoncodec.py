"""JSON has one home: `shopevents.jsoncodec`. No other module imports the standard `json`
module (checked from the source with `ast`, imports inside functions included), and the
home's functions write and read what their callers have always written and read."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from shopevents.jsoncodec import (
    ascii_literal,
    compact,
    dumpb,
    dumps,
    loads,
    loads_compact,
    loads_with_hooks,
    plain,
    pretty,
    quoted,
)
from shopevents.schema.models import Money

PKG = Path(__file__).resolve().parents[1] / "src" / "shopevents"
HOME = "jsoncodec.py"


def json_imports(source: str) -> list[int]:
    """Lines that import the standard `json` module or one of its submodules, however
    spelled (`import json`, `import json as j`, `from json import loads`, `import
    json.decoder`, `from json.decoder import JSONDecodeError`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "json" or name.startswith("json.") for name in names):
            found.append(node.lineno)
    return found


def test_only_jsoncodec_imports_the_json_module() -> None:
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        name = path.relative_to(PKG).as_posix()
        lines = json_imports(path.read_text())
        if lines and name != HOME:
            found[name] = lines
    assert not found, f"imports of `json` outside {HOME} (file: lines): {found}"
    assert json_imports((PKG / HOME).read_text()), f"{HOME} no longer imports json"


def test_the_check_sees_every_spelling() -> None:
    for source in (
        "import json",
        "import os, json as j",
        "from json import loads",
        "import json.decoder",
        "from json.decoder import JSONDecodeError",
        "def f():\n    import json\n",
    ):
        assert json_imports(source), source
    for source in ("import msgspec.json", "from msgspec import json", "from . import json"):
        assert not json_imports(source), source


def test_decimals_round_trip_exactly() -> None:
    value = {
        "amount": Decimal("0.1000000000000000000000000001"),
        "big": Decimal("123456789012345678901234567890.5"),
        "price": Money("12.50"),
        "lines": [Decimal("-0.000001"), 3, "3.10"],
    }
    text = dumps(value)
    assert text == (
        '{"amount":0.1000000000000000000000000001,"big":123456789012345678901234567890.5,'
        '"price":12.50,"lines":[-0.000001,3,"3.10"]}'
    )
    back = loads(text)
    assert back == value
    assert type(back["amount"]) is Decimal
    assert str(back["price"]) == "12.50"  # the trailing zero is kept
    assert loads(memoryview(dumpb(value))) == value
    assert loads(None) is None


def test_plain_keeps_decimals_exact() -> None:
    class Line(msgspec.Struct):
        sku: str
        price: Money

    assert plain(Line("a", Money("0.30"))) == {"sku": "a", "price": Decimal("0.30")}
    assert type(plain(Line("a", Money("0.30")))["price"]) is Decimal


def test_ascii_literal_escapes_line_separators_and_html() -> None:
    value = {"z": "\u2028\u2029", "a": "</script><!--&", "é": "ü"}
    text = ascii_literal(value)
    assert text == (
        '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026","z":"\\u2028\\u2029","\\u00e9":"\\u00fc"}'
    )
    assert text.isascii()
    assert loads(text) == value  # still JSON, and still the same value


def test_pretty_indents_by_two_and_escapes_non_ascii() -> None:
    assert pretty({"b": [1, 2.5], "a": {}, "c": "é"}) == (
        '{\n  "b": [\n    1,\n    2.5\n  ],\n  "a": {},\n  "c": "\\u00e9"\n}'
    )
    assert pretty([]) == "[]"


def test_compact_round_trips() -> None:
    value = {"cart": {"id": "cart-1", "lines": [["p1", 2]]}, "name": "Zoë", "x": None}
    text = compact(value)
    assert text == '{"cart":{"id":"cart-1","lines":[["p1",2]]},"name":"Zo\\u00eb","x":null}'
    assert loads_compact(text.encode()) == value
    with pytest.raises(ValueError):
        loads_compact(b"{not json")


def test_quoted_shows_json_or_repr() -> None:
    assert quoted(" padded ") == '" padded "'
    assert quoted([1, "a"]) == '[1, "a"]'
    assert quoted({"k": True}) == '{"k": true}'
    assert quoted("é") == '"\\u00e9"'
    assert quoted(date(2024, 1, 2)) == "datetime.date(2024, 1, 2)"


def test_loads_with_hooks_reads_each_number_by_its_hook() -> None:
    seen: list[str] = []

    def as_text(text: str) -> str:
        seen.append(text)
        return text

    def no_constant(text: str) -> None:
        raise ValueError(f"{text} is not JSON")

    value = loads_with_hooks(
        b'{"a": 1e400, "b": [7, -0.50]}',
        parse_float=as_text,
        parse_int=int,
        parse_constant=no_constant,
    )
    assert value == {"a": "1e400", "b": [7, "-0.50"]}
    assert seen == ["1e400", "-0.50"]
    hooks = {"parse_float": Decimal, "parse_int": int, "parse_constant": no_constant}
    with pytest.raises(msgspec.DecodeError, match=r"^JSON is malformed: NaN is not JSON$"):
        loads_with_hooks(b"[NaN]", **hooks)
    # the byte (not the character) where it went wrong
    with pytest.raises(
        msgspec.DecodeError, match=r"^JSON is malformed: Expecting value \(byte 7\)$"
    ):
        loads_with_hooks('["é", ]'.encode(), **hooks)
    with pytest.raises(msgspec.DecodeError, match=r"^JSON is malformed: invalid UTF-8 \(byte 2\)$"):
        loads_with_hooks(b'["\xff"]', **hooks)
