"""Consent on the browser ingest path (docs/privacy.md#consent).

A request carries the visitor's choice in the envelope's `consent` (true or false; absent:
none given). It is refused, and nothing of it is recorded, when

- it says `consent: false` (in any store: the visitor said no);
- the store honours privacy signals (`honour_gpc`) and the browser sends `Sec-GPC: 1` or
  `DNT: 1`, unless the request says `consent: true` (the choice made on the site wins over
  the browser-wide signal);
- the store requires consent (`consent_required`) and the request does not say
  `consent: true`.

A refused request is answered `200` with each part `rejected` with `no_consent` and an
empty `trackerId`: no tracker is minted, nothing is written (only the counters of
`/metrics` count it). A store with neither setting and a request without `consent` (what
Connectif's script sends) go on exactly as before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from shopevents.errors import issue
from shopevents.schema import models as m
from shopevents.storage.stores import StoreRecord


def signals(headers: Mapping[str, str]) -> str | None:
    """The privacy signal the browser sends, named for a message: GPC first."""
    if headers.get("sec-gpc", "").strip() == "1":
        return "Global Privacy Control (Sec-GPC: 1)"
    if headers.get("dnt", "").strip() == "1":
        return "Do Not Track (DNT: 1)"
    return None


def gated(store: StoreRecord, headers: Mapping[str, str]) -> bool:
    """Whether the store may refuse this request for consent: then an error answer echoes the
    tracker the request named and never mints one."""
    return store.consent_required or (store.honour_gpc and signals(headers) is not None)


def refusal(store: StoreRecord, consent: bool | None, headers: Mapping[str, str]) -> str | None:
    """Why the request is refused for consent (a message), or None when it goes on."""
    if consent is True:
        return None
    if consent is False:
        return "Not recorded: the request says the visitor refused consent (`consent: false`)"
    if store.honour_gpc and (signal := signals(headers)):
        return (
            f"Not recorded: the browser sends {signal}, which this store honours, and the "
            "request does not say `consent: true`"
        )
    if store.consent_required:
        return (
            "Not recorded: this store requires the visitor's consent and the request does not "
            "say `consent: true`"
        )
    return None


class _Typed(msgspec.Struct):
    type: Any = None


_typed = msgspec.json.Decoder(_Typed | None)


def _type_of(raw: msgspec.Raw) -> str | None:
    try:
        event = _typed.decode(raw)
    except msgspec.DecodeError:
        return None
    return event.type if event is not None and isinstance(event.type, str) else None


def answer(envelope: m.Envelope, message: str) -> dict[str, Any]:
    """The answer to a refused request: every event, the cart and entityInfo `rejected` with
    `no_consent`, no tracker. Nothing of the body is echoed but event types."""
    entry = issue("no_consent", "/consent", message)
    out: dict[str, Any] = {
        "trackerId": "",
        "banners": [],
        "webContents": [],
        "webModals": {},
        "consent": False,
        "results": [
            {"index": i, "type": _type_of(raw), "status": "rejected", **entry, "warnings": []}
            for i, raw in enumerate(envelope.events)
        ],
    }
    for part in ("cart", "entityInfo"):
        if len(getattr(envelope, part)):
            out[part] = {"status": "rejected", **entry, "warnings": []}
    return out
