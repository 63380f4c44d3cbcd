"""Erasing a contact (GDPR's right to erasure): every row and stored byte that carries its
personal data, in every table, for the contact and the contacts merged into it. Revenue and
counts survive as anonymous figures. A keyed hash of the e-mail and of each tracker id (never
the values) is kept as a suppression entry: traffic from an erased tracker (a retry, a replay
of old requests) cannot re-create the contact; a fresh identification from a new tracker, or
through the REST API, is a new contact.

An erasure is idempotent (erasing an unknown or already erased e-mail records nothing new and
answers as before) and recorded in the audit log (`erasures`: who, when, which store, what
counts). One larger than `INLINE_LIMIT` rows waits for the worker (`erase_pending`)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from shopevents.errors import issue
from shopevents.storage import erasure as store
from shopevents.storage.database import Conn

INLINE_LIMIT = 5_000
"""Events and activities an erasure may have to be done within the request; above it, the
request is answered `202` with the erasure's id and the worker does it."""


@dataclass(frozen=True)
class Outcome:
    id: str
    status: str  # "done" | "pending"
    counts: dict[str, int] = field(default_factory=dict)
    found: bool = True


def normal_email(email: str) -> str:
    return email.strip().lower()


def digest(key: bytes, value: str) -> str:
    """The keyed hash kept for a suppressed e-mail or tracker id."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def needles(email: str, contact_ids: list[str], trackers: list[str]) -> list[str]:
    """What names the contact in stored bytes, in lower case (the search is case-blind)."""
    out = [normal_email(email), *contact_ids, *trackers]
    return [n.lower() for n in dict.fromkeys(out) if n]


def request(
    conn: Conn,
    store_id: str,
    email: str,
    actor: str,
    now: int,
    new_id: str,
    inline_limit: int = INLINE_LIMIT,
) -> Outcome:
    """Erase now, or record a pending erasure for the worker when it is large. Idempotent: an
    e-mail with no contact left gives the last erasure of it (or `found=False`)."""
    email = normal_email(email)
    key = store.key(conn)
    email_digest = digest(key, email)
    cid = store.contact_of_email(conn, store_id, email)
    if cid is None:
        prior = store.by_digest(conn, store_id, email_digest)
        if prior is not None:
            return Outcome(prior["id"], prior["status"], prior["counts"])
        return Outcome(new_id, "done", {}, found=False)
    contacts = store.merged_into(conn, store_id, [cid])
    if store.linked_rows(conn, store_id, contacts) > inline_limit:
        store.record(conn, new_id, store_id, email_digest, actor, now, "pending", {}, email)
        return Outcome(new_id, "pending")
    counts = _erase(conn, store_id, email, contacts, key, new_id, now)
    store.record(conn, new_id, store_id, email_digest, actor, now, "done", counts)
    return Outcome(new_id, "done", counts)


def erase_pending(conn: Conn, now: int) -> bool:
    """The worker's step: do the oldest pending erasure; False when there is none."""
    job = store.next_pending(conn)
    if job is None:
        return False
    erasure_id, store_id, email = job
    key = store.key(conn)
    cid = store.contact_of_email(conn, store_id, email)
    counts: dict[str, int] = {}
    if cid is not None:
        counts = _erase(
            conn, store_id, email, store.merged_into(conn, store_id, [cid]), key, erasure_id, now
        )
    store.finish(conn, erasure_id, now, counts)
    return True


def _erase(
    conn: Conn,
    store_id: str,
    email: str,
    contacts: list[str],
    key: bytes,
    erasure_id: str,
    now: int,
) -> dict[str, int]:
    trackers = store.trackers_of(conn, store_id, contacts)
    conn.forget_memo(_Suppressing)
    store.suppress(conn, store_id, "email", [digest(key, email)], erasure_id, now)
    store.suppress(conn, store_id, "tracker", [digest(key, t) for t in trackers], erasure_id, now)
    return store.erase_rows(conn, store_id, contacts, needles(email, contacts, trackers))


@dataclass
class _Suppressing:
    """The transaction's memo: store → whether it has suppression entries."""

    stores: dict[str, bool] = field(default_factory=dict)


def _suppressing(conn: Conn, store_id: str) -> bool:
    """Whether the store has any suppression entry: asked once per store and transaction."""
    memo = conn.memo(_Suppressing).stores
    known = memo.get(store_id)
    if known is None:
        known = memo[store_id] = store.any_suppressions(conn, store_id)
    return known


def tracker_suppressed(conn: Conn, store_id: str, tracker_id: str) -> bool:
    """Whether the tracker belonged to an erased contact (asked only of trackers that are not
    known; a store without suppression entries answers from memory after its first ask)."""
    if not _suppressing(conn, store_id):
        return False
    return bool(store.suppressed(conn, store_id, "tracker", [digest(store.key(conn), tracker_id)]))


def refused_identification() -> dict[str, str]:
    """The entityInfo verdict's error when its tracker was an erased contact's."""
    return issue(
        "contact_erased",
        "/entityInfo/trackerId",
        "This tracker belonged to a contact that was erased; a new tracker was given and the "
        "e-mail was not linked to it",
    )


def view(e: dict[str, Any], iso: Any) -> dict[str, Any]:
    """An audit-log entry as the REST API gives it."""
    return {
        "id": e["id"],
        "status": e["status"],
        "actor": e["actor"],
        "requestedAt": iso(e["requested_at"]),
        "finishedAt": None if e["finished_at"] is None else iso(e["finished_at"]),
        "counts": e["counts"],
    }
