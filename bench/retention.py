"""python -m bench retention: the worker's retention step on a store past its retention.

Per backend: a migrated database with one store whose `requests` (raw bodies of about 700
bytes) and `quarantine` rows are all older than the store's retention, seeded with direct
inserts; then `retention.prune_due` in its own transactions, 2,000 requests a round as the
worker runs it, until nothing is due. Printed: rounds, median and worst round, rows pruned per
second and CPU per request; and, as the reference measured in the same run on an identical
copy, one plain `UPDATE requests SET body = ''` of all of them in a single statement (the
floor a batched, resumable step is compared with).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.dbs import make_database
from shopevents.clock import to_micros
from shopevents.config import Settings
from shopevents.domain import retention
from shopevents.storage import retention as retentions
from shopevents.storage import stores
from shopevents.storage.database import open_database

BODY = b'{"events":[{"type":"page-visit"}],"entityInfo":{"primaryKey":"visitor@example.com"},' + (
    b'"pageInfo":{"title":"' + b"x" * 560 + b'"}}'
)
DAY = retention.DAY_US


def _seed(conn: Any, store_id: str, n: int, start: int) -> None:
    rows = [(store_id, start + i * 1000, "browser", "t" * 24, BODY, "{}", 1, 0) for i in range(n)]
    for i in range(0, n, 20_000):
        with conn.transaction():
            conn.executemany(
                "INSERT INTO requests (store_id, received_at, channel, tracker_id, body, "
                "response, accepted, rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows[i : i + 20_000],
            )
    q = [
        (store_id, i, 0, "no-such-type", "unknown_type", start + i * 1000, BODY, "[]")
        for i in range(n // 10)
    ]
    with conn.transaction():
        conn.executemany(
            "INSERT INTO quarantine (store_id, request_id, idx, type, code, received_at, raw, "
            "errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            q,
        )


def _one(backend: str, n: int, reference: bool, log: Callable[[str], None]) -> dict[str, Any]:
    target = make_database(backend)
    target.create()
    db = open_database(Settings(database_url=target.url))
    try:
        db.migrate()
        conn = db.connect()
        now = to_micros(datetime.now(UTC))
        start = now - 200 * DAY
        with conn.transaction():
            rec = stores.create_store(conn, "Retention bench", now=now)
            retentions.set_days(conn, rec.id, 30)
        t = time.perf_counter()
        _seed(conn, rec.id, n, start)
        log(f"  {backend}: seeded {n:,} requests in {time.perf_counter() - t:.1f} s")
        if reference:
            c0, t0 = time.process_time(), time.perf_counter()
            with conn.transaction():
                conn.execute(
                    "UPDATE requests SET body = ? WHERE store_id = ? AND received_at < ?",
                    (b"", rec.id, now - 30 * DAY),
                )
                conn.execute(
                    "DELETE FROM quarantine WHERE store_id = ? AND received_at < ?",
                    (rec.id, now - 30 * DAY),
                )
            return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
        times: list[float] = []
        c0, t0 = time.process_time(), time.perf_counter()
        while True:
            r0 = time.perf_counter()
            with conn.transaction():
                done = retention.prune_due(conn, now)
            if not done:
                break
            times.append(time.perf_counter() - r0)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        left = conn.scalar(
            "SELECT COUNT(*) FROM requests WHERE store_id = ? AND length(body) > 0", (rec.id,)
        )
        conn.close()
        return {
            "rounds": len(times),
            "median": statistics.median(times) if times else 0.0,
            "worst": max(times, default=0.0),
            "wall": wall,
            "cpu": cpu,
            "left": int(left or 0),
        }
    finally:
        db.close()
        target.drop()


def run(backends: list[str], n: int, log: Callable[[str], None]) -> None:
    log(f"retention: pruning {n:,} requests and {n // 10:,} quarantined events past retention")
    out = []
    for backend in backends:
        got = _one(backend, n, False, log)
        ref = _one(backend, n, True, log)
        out.append((backend, got, ref))
    log("")
    log(
        "| backend | rounds | median round (s) | worst round (s) | requests/s | client CPU per request (µs) | reference: one UPDATE (s) | ratio | bodies left |"
    )
    log("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for backend, got, ref in out:
        log(
            f"| {backend} | {got['rounds']} | {got['median']:.3f} | {got['worst']:.3f} | "
            f"{n / got['wall']:,.0f} | {got['cpu'] / n * 1e6:.1f} | {ref['wall']:.2f} | "
            f"{got['wall'] / ref['wall']:.2f} | {got['left']} |"
        )
