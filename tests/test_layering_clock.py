"""Time has one home: `shopevents.clock`. Everything else asks the injected clock (an
`AppContext`'s, a `clock` parameter) for the time, and times its timeouts with
`clock.monotonic()`, so that a test can move time instead of sleeping through it.

The check parses every module with `ast` and names file:line of each read of the system's
clocks outside clock.py: `time.time()`, `time.monotonic()`, `time.perf_counter()`, ...,
`datetime.now()`, `datetime.utcnow()`, `datetime.today()`, `date.today()` (however `time`
and `datetime` were imported or renamed), a mere reference such as a default argument
`clock=time.monotonic`, and an asyncio loop's `loop.time()`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "shopevents"
HOME = "clock.py"

_TIME_READS = (
    "time",
    "time_ns",
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "process_time",
    "process_time_ns",
    "thread_time",
    "thread_time_ns",
    "localtime",
    "gmtime",
    "ctime",
    "asctime",
    "strftime",
)
FORBIDDEN = frozenset(
    [f"time.{name}" for name in _TIME_READS]
    + [f"datetime.datetime.{name}" for name in ("now", "utcnow", "today")]
    + ["datetime.date.today"]
)


class _Reads(ast.NodeVisitor):
    """Finds the clock reads of one module: (line, enclosing function, what is read)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # local name -> the module or object it was imported as
        self.scope: list[str] = []
        self.found: list[tuple[int, str, str]] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _where(self) -> str:
        return self.scope[-1] if self.scope else "<module>"

    def _dotted(self, node: ast.expr) -> str | None:
        """`a.b.c` with `a` replaced by what it was imported as, else None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.names:
            return None
        return ".".join([self.names[node.id], *reversed(parts)])

    def _check(self, node: ast.Attribute | ast.Name) -> None:
        name = self._dotted(node)
        if name in FORBIDDEN:
            self.found.append((node.lineno, self._where(), name))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check(node)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        is_loop_time = (
            isinstance(f, ast.Attribute)
            and f.attr == "time"
            and not node.args
            and not node.keywords
            and self._dotted(f) is None
        )
        if is_loop_time:
            self.found.append((node.lineno, self._where(), "loop.time()"))
        self.generic_visit(node)


def _imported_names(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def clock_reads(source: str) -> list[tuple[int, str, str]]:
    """(line, enclosing function, what is read) for every read of a system clock."""
    tree = ast.parse(source)
    reads = _Reads(_imported_names(tree))
    reads.visit(tree)
    return sorted(reads.found)


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.relative_to(PKG).as_posix() != HOME)


def test_no_clock_is_read_outside_the_clock_module() -> None:
    offenders = []
    for path in _modules():
        rel = path.relative_to(PKG).as_posix()
        for line, where, name in clock_reads(path.read_text()):
            offenders.append(f"src/shopevents/{rel}:{line}: {name} (in {where})")
    assert not offenders, (
        "read the time from the injected clock (ctx.clock.now(), a `clock` parameter) or, "
        "for a timeout, shopevents.clock.monotonic():\n  " + "\n  ".join(offenders)
    )


def test_the_modules_are_found() -> None:
    found = {p.relative_to(PKG).as_posix() for p in _modules()}
    assert {"app.py", "context.py", "ingest/committer.py", "reports/service.py"} <= found
    assert HOME not in found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time\nx = time.time()\n", [(2, "<module>", "time.time")]),
        ("import time as t\ndef f():\n    return t.monotonic()\n", [(3, "f", "time.monotonic")]),
        ("from time import perf_counter as pc\nx = pc()\n", [(2, "<module>", "time.perf_counter")]),
        ("from time import monotonic\ndef f(c=monotonic): ...\n", [(2, "f", "time.monotonic")]),
        (
            "from datetime import UTC, datetime\nasync def g():\n    return datetime.now(UTC)\n",
            [(3, "g", "datetime.datetime.now")],
        ),
        ("import datetime\nd = datetime.date.today()\n", [(2, "<module>", "datetime.date.today")]),
        (
            "import datetime as dt\nd = dt.datetime.utcnow()\n",
            [(2, "<module>", "datetime.datetime.utcnow")],
        ),
        (
            "from datetime import date as D\nd = D.today()\n",
            [(2, "<module>", "datetime.date.today")],
        ),
        ("def f(loop):\n    return loop.time() + 1\n", [(2, "f", "loop.time()")]),
        # what is not a read of a clock
        ("import time\ntime.sleep(1)\n", []),
        ("from datetime import datetime\nd = datetime(2026, 1, 1).date()\n", []),
        ("from datetime import date\nd = date.fromisoformat('2026-01-01')\n", []),
        ("from shopevents import clock\nt = clock.monotonic()\nn = ctx.clock.now()\n", []),
        ("def f(s):\n    return s.time(12)\n", []),
    ],
)
def test_the_check_finds_every_spelling_of_a_clock_read(
    source: str, expected: list[tuple[int, str, str]]
) -> None:
    assert clock_reads(source) == expected
