"""Page visits with their traffic source (migration 1030), and trackers' last-seen time.

Both are written on the ingest path, so both are cheap: a visit is one queued row (written
with the transaction's other appended rows), and the trackers seen in a transaction are
stamped with one UPDATE per store just before COMMIT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopevents.storage.database import Conn
from shopevents.storage.statements import Insert

_INSERT = Insert(
    "visits", "store_id, contact_id, event_id, at, source, name, medium, campaign, device, info"
)


def record(
    conn: Conn,
    store_id: str,
    contact_id: str,
    event_id: int,
    at: int,
    source: str,
    name: str | None,
    medium: str | None,
    campaign: str | None,
    device: str | None,
    info: str | None,
) -> None:
    """Keep one page visit (queued with the transaction's appended rows)."""
    conn.append(
        _INSERT, (store_id, contact_id, event_id, at, source, name, medium, campaign, device, info)
    )


def of_contact(conn: Conn, contact_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """A contact's latest visits, newest first (for the contact API and the dashboard)."""
    rows = conn.all(
        "SELECT at, source, name, medium, campaign, device, info FROM visits "
        "WHERE contact_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        (contact_id, limit),
    )
    return [
        {
            "at": r[0],
            "source": r[1],
            "name": r[2],
            "medium": r[3],
            "campaign": r[4],
            "device": r[5],
            "info": r[6],
        }
        for r in rows
    ]


# --- trackers' last seen ------------------------------------------------------------------------


@dataclass
class _Seen:
    """The transaction's memo: the trackers whose `last_seen` moves at (store, now)."""

    trackers: dict[tuple[str, int], list[str]] = field(default_factory=dict)


SEEN_GRANULARITY_US = 60_000_000
"""A tracker's lastSeen is rewritten only when it is this much older than the request (a
visitor's burst of pages costs one write a minute, not one per page)."""


def _stamp(conn: Conn) -> None:
    seen = conn.forget_memo(_Seen)
    for (store_id, now), trackers in seen.trackers.items() if seen else ():
        for i in range(0, len(trackers), 500):
            chunk = trackers[i : i + 500]
            marks, params = conn.any_of(chunk)
            conn.execute(
                f"UPDATE trackers SET last_seen = ? WHERE store_id = ? AND tracker_id {marks} "
                "AND last_seen < ?",
                (now, store_id, *params, now - SEEN_GRANULARITY_US),
            )


def mark_seen(conn: Conn, store_id: str, tracker_id: str, now: int) -> None:
    """The tracker made a request now: its `last_seen` moves (before COMMIT, or before a
    statement that names `trackers`)."""
    if not conn.in_tx:
        conn.execute(
            "UPDATE trackers SET last_seen = ? WHERE store_id = ? AND tracker_id = ? "
            "AND last_seen < ?",
            (now, store_id, tracker_id, now),
        )
        return
    seen = conn.memo_if_any(_Seen)
    if seen is None:
        seen = conn.memo(_Seen)
        conn.defer("trackers", _stamp)
    seen.trackers.setdefault((store_id, now), []).append(tracker_id)
