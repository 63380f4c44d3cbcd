"""How long raw request bodies and quarantined events are kept (per store; default
DEFAULT_RETENTION_DAYS), and the worker's pruning step.

Pruning empties the raw body of each request older than the store's retention (the request
row, its answer and its events stay, so figures and the debugger's list stay) and deletes
quarantined events older than it (they can no longer be replayed)."""

from __future__ import annotations

from decimal import Decimal

from shopevents.storage import retention as store
from shopevents.storage.database import Conn

DEFAULT_RETENTION_DAYS = 90
MIN_DAYS, MAX_DAYS = 1, 3650
DAY_US = 86_400 * 1_000_000
SLACK_US = 3_600 * 1_000_000
"""A store is pruned when an hour's worth is due, not at every round of the worker."""


def check_days(value: object) -> int:
    """A retention in days (a whole number from 1 to 3650; `30.0` is 30); ValueError saying
    why not."""
    days: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        days = value
    elif isinstance(value, Decimal | float) and Decimal(value).is_finite():
        whole = Decimal(value)
        if abs(whole) > MAX_DAYS:
            raise ValueError(f"Expected {MIN_DAYS} to {MAX_DAYS} days; received {value!s}")
        days = int(whole) if whole == whole.to_integral_value() else None
    elif isinstance(value, str) and value.strip().isdigit():
        days = int(value.strip())
    if days is None:
        raise ValueError(f"Expected a whole number of days; received {value!s}")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"Expected {MIN_DAYS} to {MAX_DAYS} days; received {days}")
    return days


def effective_days(days: int | None) -> int:
    return DEFAULT_RETENTION_DAYS if days is None else days


def prune_due(conn: Conn, now: int, limit: int = 2_000) -> int:
    """The worker's step: prune up to `limit` requests of the stores that have some past
    their retention; how many rows were pruned (0: nothing due)."""
    done = 0
    for store_id, days, since in store.stores(conn):
        if done >= limit:
            break
        cutoff = now - effective_days(days) * DAY_US
        if since >= cutoff - SLACK_US:
            continue
        n, _ = store.prune(conn, store_id, since, cutoff, limit - done)
        done += n
    return done


def view(days: int | None, pruned_until: int, iso: object) -> dict[str, object]:
    """The store's retention as the REST API and the CLI give it."""
    return {
        "retentionDays": effective_days(days),
        "default": days is None,
        "prunedUntil": None if not pruned_until else iso(pruned_until),  # type: ignore[operator]
    }
