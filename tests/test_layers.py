"""Imports flow one way: schema knows nothing of storage or the surfaces; storage knows no
HTTP; domain rules know no surface; only app and the cli package wire everything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "shopevents"

# package -> what it may never import
FORBIDDEN = {
    "schema": (
        "storage",
        "domain",
        "ingest",
        "api",
        "dashboard",
        "webhooks",
        "worker",
        "reports",
        "client",
        "demoshop",
        "app",
        "cli",
        "context",
    ),
    "storage": (
        "domain",
        "ingest",
        "api",
        "dashboard",
        "webhooks",
        "worker",
        "reports",
        "client",
        "demoshop",
        "app",
        "cli",
        "context",
    ),
    "domain": (
        "ingest",
        "api",
        "dashboard",
        "webhooks",
        "worker",
        "reports",
        "client",
        "demoshop",
        "app",
        "cli",
        "context",
    ),
}
EVERYONE_BUT_WIRING = ("app", "cli")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("shopevents.")
        ):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("shopevents."):
                    found.add(alias.name.split(".")[1])
    return found


def modules(package: str) -> list[Path]:
    return sorted((PKG / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_upper_ones(package: str) -> None:
    for path in modules(package):
        bad = imports_of(path) & set(FORBIDDEN[package])
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_only_the_wiring_imports_the_wiring() -> None:
    for path in PKG.rglob("*.py"):
        if path.parent == PKG and path.stem in EVERYONE_BUT_WIRING:
            continue
        if path.parent == PKG / "cli":  # the command line's modules wire it together
            continue
        if path.name == "__main__.py":
            continue
        bad = imports_of(path) & set(EVERYONE_BUT_WIRING)
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"
