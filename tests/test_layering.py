"""The shape of the package, checked from its source (nothing is imported):

- SQL text and SQLite/PostgreSQL branches (`.dialect`) live under `storage/` only;
- no import cycle between modules (imports inside functions count too);
- a module imports only from its own layer or lower ones (`LAYERS`);
- no module imports another module's private (`_name`) names.

Each `ALLOWED_*` entry names a file that does not hold to a rule yet, and why."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "shopevents"

LAYERS: tuple[tuple[str, ...], ...] = (
    # foundations: import nothing of ours but each other
    ("clock", "ids", "errors", "jsoncodec", "config"),
    ("schema",),  # the wire format: decoding and verdicts
    ("storage",),  # SQL and the two backends
    ("domain",),  # the rules of what events do
    # services built on the rules (intake and its group committer, webhooks, reports, cluster
    # mode, the worker), the ASGI plumbing they answer through, and the runtime object that
    # holds them (`context.AppContext`)
    (
        "asgi",
        "responses",
        "context",
        "ingest",
        "webhooks",
        "reports",
        "segment",
        "cluster",
        "worker",
    ),
    # the surfaces
    ("runtime", "api", "dashboard", "client", "demoshop", "simulate"),
    ("app", "server", "cli", "__main__"),  # wiring: entry points
)
"""Top-level modules and packages, lowest layer first. A module may import from its own
layer and the layers below it."""

RANK = {name: i for i, names in enumerate(LAYERS) for name in names}

ALLOWED_SQL: dict[str, str] = {}
"""File (relative to src/shopevents) → why it still holds SQL text or a dialect branch."""

ALLOWED_UPWARD: dict[str, str] = {}
"""File → why it still imports from a higher layer."""

ALLOWED_PRIVATE: dict[str, str] = {}
"""File → why it still imports (or reads) another module's private names."""

ALLOWED_CYCLES: dict[frozenset[str], str] = {}
"""Modules of a cycle → why it is still there."""

# SQL as this code base writes it: upper-case keywords opening a statement, or a clause that
# only SQL has.
_SQL = re.compile(
    r"^\s*(SELECT\s|INSERT INTO\s|UPDATE\s+\w+\s+SET\s|DELETE FROM\s|WITH\s+\w+\s+AS\s*\(|"
    r"CREATE (TABLE|INDEX|UNIQUE)\s|ALTER TABLE\s|DROP (TABLE|INDEX)\s|PRAGMA\s|COPY\s+\w+\s*\()"
    r"|\bSELECT\b.+\bFROM\b|\bON CONFLICT\b|\bINSERT INTO \w+\b|\bDELETE FROM \w+\b",
    re.S,
)


def sources() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("shopevents", *parts))


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _docstrings(module: ast.Module) -> set[int]:
    """ids of the docstring nodes (module, class, function and attribute docstrings)."""
    out: set[int] = set()
    for node in ast.walk(module):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for stmt in body:
            if (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                out.add(id(stmt.value))
    return out


def sql_lines(path: Path) -> list[int]:
    """Lines with SQL text (a string, or the literal parts of an f-string) or `.dialect`."""
    module = tree(path)
    docs = _docstrings(module)
    found: list[int] = []
    for node in ast.walk(module):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
        elif isinstance(node, ast.Attribute) and node.attr == "dialect":
            found.append(node.lineno)
        if text is not None and _SQL.search(text):
            found.append(node.lineno)
    return sorted(set(found))


def imports(path: Path) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """(statement, module imported, names taken from it) for each import of ours."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("shopevents."):
                    yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            if base != "shopevents" and not base.startswith("shopevents."):
                continue
            names = [a.name for a in node.names]
            modules = {m for m in (f"{base}.{n}" for n in names) if _is_module(m)}
            if modules:  # `from shopevents.pkg import module`
                for m in modules:
                    yield node, m, []
                rest = [n for n in names if f"{base}.{n}" not in modules]
                if rest:
                    yield node, base, rest
            else:
                yield node, base, names


@cache
def _is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    path = PKG.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _top(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_sql_and_dialect_branches_live_in_storage() -> None:
    found = {}
    for path in sources():
        name = rel(path)
        if name.startswith("storage/"):
            continue
        lines = sql_lines(path)
        if lines and name not in ALLOWED_SQL:
            found[name] = lines
    assert not found, f"SQL text or a dialect branch outside storage/ (file: lines): {found}"


def test_allowed_sql_is_still_needed() -> None:
    stale = [
        name for name in ALLOWED_SQL if not (PKG / name).is_file() or not sql_lines(PKG / name)
    ]
    assert not stale, f"no SQL left in these: drop them from ALLOWED_SQL: {stale}"


def test_every_module_has_a_layer() -> None:
    tops = {rel(p).split("/")[0].removesuffix(".py") for p in sources()} - {"__init__"}
    assert tops <= set(RANK), f"not in LAYERS: {sorted(tops - set(RANK))}"


def _upward() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sources():
        name = rel(path)
        own = name.split("/")[0].removesuffix(".py")
        if own == "__init__":
            continue
        for node, module, _ in imports(path):
            other = _top(module)
            if other != own and RANK.get(other, -1) > RANK[own]:
                found.setdefault(name, []).append(f"{node.lineno}: {module}")
    return found


def test_no_import_from_a_higher_layer() -> None:
    found = {k: v for k, v in _upward().items() if k not in ALLOWED_UPWARD}
    assert not found, f"imports from a higher layer: {found}"


def test_allowed_upward_is_still_needed() -> None:
    stale = sorted(set(ALLOWED_UPWARD) - set(_upward()))
    assert not stale, f"drop them from ALLOWED_UPWARD: {stale}"


def _private() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sources():
        name = rel(path)
        here = module_name(path)
        bound: dict[str, str] = {}  # local name → module of ours it stands for
        for node, module, names in imports(path):
            if module == here:
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    found.setdefault(name, []).append(f"{node.lineno}: {module}.{n}")
            if not names:
                for alias in node.names:
                    full = alias.name if isinstance(node, ast.Import) else f"{module}"
                    if isinstance(node, ast.Import) and alias.asname is None:
                        continue  # `import shopevents.x.y`: used by its full name
                    if full == module or full.endswith("." + alias.name):
                        bound[alias.asname or alias.name] = module
        for node in ast.walk(tree(path)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.setdefault(name, []).append(
                    f"{node.lineno}: {bound[node.value.id]}.{node.attr}"
                )
    return found


def test_no_private_name_across_modules() -> None:
    found = {k: v for k, v in _private().items() if k not in ALLOWED_PRIVATE}
    assert not found, f"private names of another module: {found}"


def test_allowed_private_is_still_needed() -> None:
    stale = sorted(set(ALLOWED_PRIVATE) - set(_private()))
    assert not stale, f"drop them from ALLOWED_PRIVATE: {stale}"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sources():
        here = module_name(path)
        deps = graph.setdefault(here, set())
        for _, module, _ in imports(path):
            if module != here and _is_module(module):
                deps.add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    found = [sorted(c) for c in _cycles(_graph()) if c not in ALLOWED_CYCLES]
    assert not found, f"import cycles: {found}"


def test_allowed_cycles_are_still_there() -> None:
    cycles = set(_cycles(_graph()))
    stale = [sorted(c) for c in ALLOWED_CYCLES if c not in cycles]
    assert not stale, f"drop them from ALLOWED_CYCLES: {stale}"


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    """The detectors themselves: SQL in a string and in an f-string, a dialect branch."""
    probe = PKG / "storage" / "statements.py"
    assert sql_lines(probe)  # storage holds SQL: the detector finds it
    assert _SQL.search("SELECT id FROM contacts WHERE email = ?")
    assert _SQL.search("UPDATE carts SET state = ?")
    assert not _SQL.search("Drop what the transaction knows (select one from the list)")
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [frozenset({"a", "b"})]
