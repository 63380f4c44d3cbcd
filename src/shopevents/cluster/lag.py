"""Cluster mode's processing lag: how long the oldest request a collector acknowledged and no
processor applied yet has waited, and how many wait. `/metrics` and the dashboard show it."""

from __future__ import annotations

from typing import NamedTuple

from shopevents.context import AppContext
from shopevents.storage import cluster_partitions
from shopevents.storage.database import Conn


class Lag(NamedTuple):
    seconds: float
    pending: int


async def current(ctx: AppContext) -> Lag | None:
    """The lag now (None outside cluster mode). Raises StorageUnavailable."""
    backlog = await ctx.intake.backlog()
    return await ctx.read(lambda c: processing_lag(c, ctx.now_us(), backlog))


def processing_lag(
    conn: Conn, now: int, backlog: dict[int, tuple[int, int | None]] | None
) -> Lag | None:
    """Cluster mode's processing lag in seconds (how long the oldest request not yet applied
    has waited) and the requests waiting. From the stream (`backlog`, a collector's view)
    when given; else from the rows processors write (`cluster_partitions`: the lag of a
    partition with requests pending is the time since the last one applied). None outside
    cluster mode."""
    if backlog is not None:
        oldest = [t for n, t in backlog.values() if n and t is not None]
        lag = (now - min(oldest)) / 1e6 if oldest else 0.0
        return Lag(max(lag, 0.0), sum(n for n, _ in backlog.values()))
    rows = cluster_partitions.states(conn)
    if not rows:
        return None
    lag = max(((now - r.applied_through) / 1e6 if r.pending > 0 else 0.0) for r in rows)
    return Lag(max(lag, 0.0), sum(r.pending for r in rows))
