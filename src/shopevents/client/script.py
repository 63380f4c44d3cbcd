"""The client script file, as shipped and as served with a store's configuration in place."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from shopevents.jsoncodec import ascii_literal

SCRIPT_NAME = "shopevents.js"
CONF_PLACEHOLDER = "/*SHOPEVENTS_CONF*/null"


@lru_cache(maxsize=1)
def script_source() -> str:
    """The client script as shipped, with its configuration placeholder."""
    text = resources.files(__package__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")
    if CONF_PLACEHOLDER not in text:
        raise RuntimeError(f"{SCRIPT_NAME} lost its configuration placeholder")
    return text


@dataclass(frozen=True)
class RenderedScript:
    body: bytes
    etag: str


def render_script(conf: dict[str, Any]) -> RenderedScript:
    """The script with the store's configuration in place of the placeholder."""
    body = script_source().replace(CONF_PLACEHOLDER, ascii_literal(conf), 1).encode("utf-8")
    return RenderedScript(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')
