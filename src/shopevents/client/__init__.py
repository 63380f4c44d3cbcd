"""The browser client script: the file, the per-store configuration it is served with, and
the loader snippet that stores paste into their pages."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

SCRIPT_NAME = "shopevents.js"
CONF_PLACEHOLDER = "/*SHOPEVENTS_CONF*/null"


class StoreLike(Protocol):
    id: str
    domains: list[str]
    tag_mode: bool
    tracking_enabled: bool
    excluded_paths: list[str]


@lru_cache(maxsize=1)
def script_source() -> str:
    """The client script as shipped, with its configuration placeholder."""
    text = resources.files(__package__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")
    if CONF_PLACEHOLDER not in text:
        raise RuntimeError(f"{SCRIPT_NAME} lost its configuration placeholder")
    return text


def client_conf(store: StoreLike, base_url: str, mode: str | None = None) -> dict[str, Any]:
    """The `initializeConnectif(conf)` object for a store.

    `mode` ("tags" or "js") overrides the store's tag mode for one page, so a site can mix
    both integration styles; None follows the store setting.
    """
    auto = store.tag_mode if mode not in ("tags", "js") else mode == "tags"
    return {
        "token": store.id,
        "baseUrl": base_url.rstrip("/") + "/",
        "autoSendEventsOnInit": bool(auto),
        "webTrackingEnabled": bool(store.tracking_enabled),
        "allowedDomains": connectif_domains(store.domains),
        "allowedDomainRules": list(store.domains),
        "trackAllByDefault": True,
        "excludeTracking": list(store.excluded_paths),
        # consent (docs/privacy.md#consent): the script sends nothing without it
        "consentRequired": bool(getattr(store, "consent_required", False)),
        "honourGpc": bool(getattr(store, "honour_gpc", False)),
    }


def connectif_domains(domains: list[str]) -> list[str]:
    """The authorised domains in the form Connectif's script understands: URL prefixes (it
    tracks a page whose address starts with one). A URL-prefix entry is kept; a host-name
    entry becomes its `https://` and `http://` prefixes (its subdomains need entries of their
    own in this form). Our script reads `allowedDomainRules`, the entries as stored."""
    out: list[str] = []
    for d in domains:
        forms = [d] if "//" in d else [f"https://{d}/", f"http://{d}/"]
        out.extend(f for f in forms if f not in out)
    return out


@dataclass(frozen=True)
class RenderedScript:
    body: bytes
    etag: str


def js_literal(value: Any) -> str:
    """A JavaScript literal for value (ASCII only) that stays inert inside an HTML <script> element."""
    return (
        json.dumps(value, separators=(",", ":"), sort_keys=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def render_script(conf: dict[str, Any]) -> RenderedScript:
    """The script with the store's configuration in place of the placeholder."""
    body = script_source().replace(CONF_PLACEHOLDER, js_literal(conf), 1).encode("utf-8")
    return RenderedScript(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')
