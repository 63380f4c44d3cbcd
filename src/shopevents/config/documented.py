"""Every setting with its docstring and default, for the docs and the tests that check them."""

from __future__ import annotations

import ast
import functools
import inspect as pyinspect
import itertools
import textwrap
from typing import Any

import msgspec

from shopevents.config.rules import section_types
from shopevents.config.settings import Settings


def _docstrings(cls: type) -> dict[str, str]:
    """Each field's docstring (the string right under it), whitespace folded."""
    tree = ast.parse(textwrap.dedent(pyinspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            out[node.target.id] = " ".join(nxt.value.value.split())
    return out


def documented_settings() -> list[tuple[str, str, Any]]:
    """(name, doc, default) of every setting, for docs and the test that checks them."""
    return list(_documented())


@functools.cache
def _documented() -> tuple[tuple[str, str, Any], ...]:
    out: list[tuple[str, str, Any]] = []
    defaults = Settings()
    sections = section_types()
    top_docs = _docstrings(Settings)
    for f in msgspec.structs.fields(Settings):
        if f.name in sections:
            docs = _docstrings(sections[f.name])
            for g in msgspec.structs.fields(sections[f.name]):
                value = getattr(getattr(defaults, f.name), g.name)
                out.append((f"{f.name}.{g.name}", docs.get(g.name, ""), value))
        else:
            out.append((f.name, top_docs.get(f.name, ""), getattr(defaults, f.name)))
    return tuple(out)
