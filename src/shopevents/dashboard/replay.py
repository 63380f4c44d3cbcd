"""Replaying quarantined events once the integration (or a rule) is fixed.

A replay decodes the stored raw event again with the current rules. If it still fails, the
quarantine row keeps it, with the new errors. If it passes, it goes through the intake
transaction like any request (channel `replay`, for the tracker of the original request, so
it lands on the same contact) and the quarantine row is marked with the outcome. Each replay
runs in one write transaction that re-reads the row, so a row is never replayed twice.
"""

from __future__ import annotations

from typing import Any

from shopevents.clock import from_micros
from shopevents.ingest import custom_posts, intake
from shopevents.jsoncodec import dumpb, dumps
from shopevents.schema.verdicts import (
    CheckContext,
    Verdict,
    decode_cart,
    decode_entity,
    decode_event,
)
from shopevents.storage import requests
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

DONE = ("accepted", "duplicate", "conflict")


def replay_one(
    conn: Conn, store: StoreRecord, quarantine_id: int, now: int, *, max_event_bytes: int
) -> dict[str, Any]:
    """Inside a write transaction. Give {id, status, ...}: status is accepted / duplicate /
    conflict (replayed), rejected (still failing; `error` holds the new reason),
    already (replayed before) or missing."""
    row = requests.for_replay(conn, store.id, quarantine_id)
    if row is None:
        return {"id": quarantine_id, "status": "missing"}
    request_id, idx, raw, previous, tracker = row
    if previous in DONE:
        return {"id": quarantine_id, "status": "already", "previous": previous}
    posted = custom_posts.replay_quarantined(conn, store, quarantine_id, raw, now)
    if posted is not None:  # a server-side custom post: mapped again through its type
        return posted
    check = CheckContext(now=from_micros(now), currency=store.currency, domains=store.domains)
    is_cart = int(idx) < 0
    verdict: Verdict | None
    error: dict[str, str] | None
    try:
        verdict = (
            decode_cart(raw, check)
            if is_cart
            else decode_event(raw, int(idx), check, max_event_bytes)
        )
    except Exception as exc:  # the stored bytes are not JSON at all
        verdict = None
        error = {
            "code": "invalid_type",
            "path": "",
            "message": f"The stored event cannot be read: {exc}",
        }
    else:
        error = verdict.error if verdict.status == "rejected" else None
        if verdict.status == "rejected" and error is None:
            error = {"code": "invalid_value", "path": "", "message": "rejected"}
    if verdict is None or error is not None:
        assert error is not None
        requests.mark_refused_again(
            conn,
            quarantine_id,
            error.get("code", "invalid_value"),
            dumps({"error": error, "warnings": verdict.warnings if verdict else []}),
            now,
        )
        return {"id": quarantine_id, "status": "rejected", "error": error}
    entity = None
    envelope: dict[str, Any] = {"replayOf": quarantine_id}
    if tracker:
        envelope["entityInfo"] = {"trackerId": tracker}
        entity = decode_entity(dumpb({"trackerId": tracker}), check)
    body = dumpb(envelope)
    part = b'"cart":' + raw if is_cart else b'"events":[' + raw + b"]"
    body = body[:-1] + b"," + part + b"}"
    prepared = intake.Prepared(
        store=store,
        channel="replay",
        body=body,
        events=[] if is_cart else [verdict],
        cart=verdict if is_cart else None,
        entity=entity,
    )
    response = intake.apply(conn, prepared, now)
    if is_cart:
        status = (response.get("cart") or {}).get("status", "accepted")
        outcome = (response.get("cart") or {}).get("outcome")
    else:
        status = response["results"][0]["status"]
        outcome = None
    requests.mark_replayed(conn, quarantine_id, now, status)
    out: dict[str, Any] = {
        "id": quarantine_id,
        "status": status,
        "warnings": verdict.warnings,
        "originalRequestId": int(request_id),
    }
    if outcome:
        out["cartOutcome"] = outcome
    return out


def replay_many(
    conn: Conn, store: StoreRecord, ids: list[int], now: int, *, max_event_bytes: int
) -> list[dict[str, Any]]:
    return [replay_one(conn, store, i, now, max_event_bytes=max_event_bytes) for i in ids]


def pending_ids(
    conn: Conn, store_id: str, *, code: str | None = None, limit: int = 1000
) -> list[int]:
    """Quarantine rows not replayed successfully yet (oldest first), optionally of one code."""
    return requests.not_replayed(conn, store_id, code, limit)


def replay_summary(results: list[dict[str, Any]]) -> tuple[str, str]:
    """A replay's outcome in one line, and its level (ok when some were accepted and none
    still rejected, else info)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    parts = []
    names = {
        "accepted": "replayed and accepted",
        "duplicate": "replayed as duplicates",
        "conflict": "replayed as conflicts",
        "rejected": "still rejected (their errors are updated)",
        "already": "replayed before",
        "missing": "not found",
    }
    for key in ("accepted", "duplicate", "conflict", "rejected", "already", "missing"):
        if counts.get(key):
            parts.append(f"{counts[key]} {names[key]}")
    level = "ok" if counts.get("accepted") and not counts.get("rejected") else "info"
    return level, "Replay: " + ", ".join(parts) + "."
