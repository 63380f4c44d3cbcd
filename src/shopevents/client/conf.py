"""The configuration a store's client script is served with (`initializeConnectif(conf)`)."""

from __future__ import annotations

from typing import Any, Protocol


class StoreLike(Protocol):
    id: str
    domains: list[str]
    tag_mode: bool
    tracking_enabled: bool
    excluded_paths: list[str]


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
