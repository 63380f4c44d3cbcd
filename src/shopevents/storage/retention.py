"""Retention: the store's setting, and pruning of raw request bodies and quarantined events
older than it, in bounded batches that follow a per-store watermark (no scan of what is
already pruned)."""

from __future__ import annotations

from shopevents.storage.database import Conn


def days_of(conn: Conn, store_id: str) -> int | None:
    """The store's own setting; None: the default."""
    row = conn.one("SELECT days FROM store_retention WHERE store_id = ?", (store_id,))
    return None if row is None or row[0] is None else int(row[0])


def set_days(conn: Conn, store_id: str, days: int | None) -> None:
    conn.execute(
        "INSERT INTO store_retention (store_id, days) VALUES (?, ?) "
        "ON CONFLICT (store_id) DO UPDATE SET days = excluded.days",
        (store_id, days),
    )


def stores(conn: Conn) -> list[tuple[str, int | None, int]]:
    """(store id, its days or None, pruned until) of every store."""
    rows = conn.all(
        "SELECT s.id, r.days, COALESCE(r.pruned_until, 0) FROM stores s "
        "LEFT JOIN store_retention r ON r.store_id = s.id ORDER BY s.id"
    )
    return [(r[0], None if r[1] is None else int(r[1]), int(r[2])) for r in rows]


def prune(conn: Conn, store_id: str, since: int, cutoff: int, limit: int) -> tuple[int, int]:
    """Empty the bodies of up to `limit` requests received in [since, cutoff) and delete the
    quarantined events received before the last of them; (rows pruned, new watermark)."""
    rows = conn.all(
        "SELECT id, received_at FROM requests WHERE store_id = ? AND received_at >= ? "
        "AND received_at < ? ORDER BY received_at, id LIMIT ?",
        (store_id, since, cutoff, limit),
    )
    if len(rows) < limit:
        until = cutoff
    else:  # stop before the last instant seen, so rows of that instant are not skipped
        until = int(rows[-1][1])
        rows = [r for r in rows if int(r[1]) < until]
        if not rows:  # `limit` rows at one instant: take the whole instant
            rows = conn.all(
                "SELECT id, received_at FROM requests WHERE store_id = ? AND received_at = ?",
                (store_id, until),
            )
            until += 1
    ids = [r[0] for r in rows]
    for i in range(0, len(ids), 500):
        test, params = conn.any_of(ids[i : i + 500])
        conn.execute(f"UPDATE requests SET body = ? WHERE id {test}", (b"", *params))
    quarantined = conn.execute(
        "DELETE FROM quarantine WHERE store_id = ? AND received_at < ?", (store_id, until)
    ).rowcount
    conn.execute(
        "INSERT INTO store_retention (store_id, pruned_until) VALUES (?, ?) "
        "ON CONFLICT (store_id) DO UPDATE SET pruned_until = excluded.pruned_until",
        (store_id, until),
    )
    return len(ids) + max(int(quarantined or 0), 0), until


def pruned_until(conn: Conn, store_id: str) -> int:
    value = conn.scalar("SELECT pruned_until FROM store_retention WHERE store_id = ?", (store_id,))
    return int(value or 0)
