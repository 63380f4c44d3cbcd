"""One error model: a refused field travels as a `FieldError` (path, code, message, and
expected/got where known) and every answer reads those attributes; no error text is parsed.

The layering check parses every module under src/ with `ast` and names file:line of
- any `.partition(": ")`, `.rpartition(": ")`, `.split(": ")` or `.rsplit(": ")` (the
  `"/path: message"` form errors used to travel in), on whatever it is called;
- any string splitting (`partition`, `rpartition`, `split`, `rsplit`) of an exception's text
  inside an `except ... as exc:` block: of `exc`, `str(exc)`, `exc.args`, `exc.message`, or a
  name assigned from one of them in that block.
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from shopevents.cli.purchases import as_options
from shopevents.domain import store_settings
from shopevents.errors import (
    ApiError,
    FieldError,
    PageProblem,
    code_for_status,
    validation_error,
)
from shopevents.reports.timebuckets import make_range

PKG = Path(__file__).resolve().parents[1] / "src" / "shopevents"
SPLITTERS = {"partition", "rpartition", "split", "rsplit"}


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _splits(node: ast.AST) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(node)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in SPLITTERS
    ]


def text_parsing(source: str) -> list[int]:
    """Lines of `source` that parse an error's text."""
    tree = ast.parse(source)
    found: set[int] = set()
    for call in _splits(tree):
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Constant) and first.value == ": ":
            found.add(call.lineno)
    for handler in ast.walk(tree):
        if not isinstance(handler, ast.ExceptHandler) or handler.name is None:
            continue
        tainted = {handler.name}
        for stmt in handler.body:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Assign) and _mentions(n.value, tainted):
                    for target in n.targets:
                        tainted |= {t.id for t in ast.walk(target) if isinstance(t, ast.Name)}
        for stmt in handler.body:
            for call in _splits(stmt):
                assert isinstance(call.func, ast.Attribute)
                if _mentions(call.func.value, tainted):
                    found.add(call.lineno)
    return sorted(found)


def test_no_module_parses_error_text() -> None:
    offences = [
        f"{path.relative_to(PKG.parent)}:{line}"
        for path in sorted(PKG.rglob("*.py"))
        for line in text_parsing(path.read_text())
    ]
    assert offences == [], "error text parsed (read FieldError's path/message instead):\n" + (
        "\n".join(offences)
    )


@pytest.mark.parametrize(
    "source",
    [
        'try:\n    f()\nexcept ValueError as exc:\n    path, _, m = str(exc).partition(": ")\n',
        "try:\n    f()\nexcept ValueError as e:\n    t = str(e)\n    head = t.split('/')[1]\n",
        'def f(message):\n    return message.partition(": ")[2]\n',
        "try:\n    f()\nexcept KeyError as exc:\n    exc.args[0].rsplit('.', 1)\n",
    ],
)
def test_the_check_finds_parsing(source: str) -> None:
    assert text_parsing(source) != []


def test_the_check_leaves_other_splitting_alone() -> None:
    source = (
        "def f(line):\n    key, _, value = line.partition('=')\n"
        "try:\n    f('a')\nexcept ValueError as exc:\n    raise Other(exc.path) from exc\n"
    )
    assert text_parsing(source) == []


def test_a_report_range_is_refused_as_data() -> None:
    with pytest.raises(FieldError) as info:
        make_range("UTC", date(2026, 1, 10), "2026-01-05", "2026-01-07", "fortnight")
    exc = info.value
    assert (exc.path, exc.code, exc.field) == ("/interval", "invalid_value", "interval")
    assert exc.got == "fortnight" and exc.expected == "one of day, week, month"
    assert exc.message == "Expected one of day, week, month; received 'fortnight'"
    with pytest.raises(FieldError) as info:
        make_range("UTC", date(2026, 1, 10), "2026-13-01")
    assert (info.value.path, info.value.got) == ("/from", "2026-13-01")


def test_a_store_setting_refusal_is_a_field_error() -> None:
    with pytest.raises(FieldError) as info:
        store_settings.parse_changes({"abandonAfterSeconds": 0})
    exc = info.value
    assert isinstance(exc, store_settings.SettingError)
    assert (exc.path, exc.code, exc.got) == ("/abandonAfterSeconds", "invalid_value", 0)
    assert exc.message == f"Expected {exc.expected}; received 0"


def test_one_problem_body_from_field_errors_and_entries() -> None:
    errors = [
        FieldError("/from", "Expected a date as YYYY-MM-DD; received 'x'"),
        FieldError("", "Expected a JSON object body", code="missing_field"),
    ]
    body = validation_error(errors).body()
    assert body == {
        "status": 422,
        "code": "validation_failed",
        "message": "/from: Expected a date as YYYY-MM-DD; received 'x'; "
        "/: Expected a JSON object body",
        "errors": [
            {
                "code": "invalid_value",
                "path": "/from",
                "message": "Expected a date as YYYY-MM-DD; received 'x'",
            },
            {"code": "missing_field", "path": "", "message": "Expected a JSON object body"},
        ],
        "validationErrors": [
            {"path": "/from", "reason": "Expected a date as YYYY-MM-DD; received 'x'"},
            {"path": "", "reason": "Expected a JSON object body"},
        ],
    }
    assert validation_error([e.entry() for e in errors]).body() == body
    with pytest.raises(AssertionError):
        FieldError("/x", "bad", code="no_such_code")


def test_the_cli_reads_the_field_not_the_text() -> None:
    """The message text is deliberately not of the `path: message` form: the CLI's line is
    built from the error entry alone."""
    err = ApiError(
        "validation_failed",
        "something else entirely",
        errors=[{"code": "invalid_value", "path": "/lines/0", "message": "Expected a line"}],
    )
    assert as_options(err) == "--line: Expected a line"
    err.errors = [{"code": "invalid_value", "path": "", "message": "Expected `amount`"}]
    assert as_options(err) == "Expected `amount`"
    err.errors = [{"code": "invalid_value", "path": "/other", "message": "No"}]
    assert as_options(err) == "/other: No"


def test_http_refusals_have_catalog_codes() -> None:
    assert [code_for_status(s) for s in (401, 403, 404, 405, 400, 418)] == [
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "http_error",
        "http_error",
    ]
    problem = PageProblem(404, "No such store", "There is no store with this id.")
    assert (problem.status, problem.code, problem.title) == (404, "not_found", "No such store")
