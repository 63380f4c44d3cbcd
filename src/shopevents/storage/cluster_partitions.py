"""What processors write about their partitions (`cluster_partitions`, migration
1200_cluster): the last request applied and the messages waiting, one row per partition."""

from __future__ import annotations

from typing import NamedTuple

from shopevents.storage.connection import Conn
from shopevents.storage.statements import Statement

_WRITE = Statement(
    "INSERT INTO cluster_partitions (partition, processor, applied_through, applied_at, pending) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (partition) DO UPDATE SET processor = excluded.processor, "
    "applied_through = excluded.applied_through, applied_at = excluded.applied_at, "
    "pending = excluded.pending"
)
_APPLIED_THROUGH = Statement("SELECT applied_through FROM cluster_partitions WHERE partition = ?")
_ALL = Statement("SELECT applied_through, pending FROM cluster_partitions")


class PartitionState(NamedTuple):
    applied_through: int  # µs: the collector's receive time of the last request applied
    pending: int  # messages waiting when it was written


def write(
    conn: Conn, partition: int, processor: str, applied_through: int, now: int, pending: int
) -> None:
    conn.execute(_WRITE, (partition, processor, applied_through, now, pending))


def applied_through(conn: Conn, partition: int) -> int | None:
    value = conn.scalar(_APPLIED_THROUGH, (partition,))
    return None if value is None else int(value)


def states(conn: Conn) -> list[PartitionState]:
    return [PartitionState(int(r[0]), int(r[1])) for r in conn.all(_ALL)]
