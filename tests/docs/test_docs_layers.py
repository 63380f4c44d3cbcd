"""docs/architecture.md's picture of the layers agrees with the layers the layering test
holds (`tests/test_layering.py`'s LAYERS)."""

from __future__ import annotations

from pathlib import Path

from tests.docs.test_docs_commands import fenced
from tests.test_layering import LAYERS

ROOT = Path(__file__).resolve().parents[2]
LABEL_WIDTH = 15


def pictured_layers() -> list[tuple[str, set[str]]]:
    """(label, modules) of each layer of the picture in "## The code", lowest layer first.

    A layer's line starts with its label; a line that starts with spaces and names modules
    continues the layer above it; lines with arrows (`│`, `▼`) join the layers."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## The code\n", 1)[1].split("\n## ", 1)[0]
    picture = next(block for lang, block in fenced(section) if lang == "text")
    layers: list[tuple[str, set[str]]] = []
    for line in picture.splitlines():
        if not line.strip() or "│" in line or "▼" in line:
            continue
        label, names = line[:LABEL_WIDTH].strip(), line[LABEL_WIDTH:]
        modules = {name.strip() for name in names.split("·")}
        if label:
            layers.append((label, modules))
        else:
            layers[-1][1].update(modules)
    return layers[::-1]


def test_the_picture_has_the_layers_of_the_layering_test() -> None:
    pictured = [modules for _, modules in pictured_layers()]
    assert pictured == [set(layer) for layer in LAYERS]


def test_every_module_in_the_picture_exists() -> None:
    pkg = ROOT / "src" / "shopevents"
    for _, modules in pictured_layers():
        for name in modules:
            assert (pkg / f"{name}.py").is_file() or (pkg / name).is_dir(), name
