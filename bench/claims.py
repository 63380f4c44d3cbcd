"""python -m bench claims: what the webhook claim step costs as the delivery backlog grows,
and whether one store's webhook fan-out slows another store's ingest.

1. Claim cost. A fresh database gets a store with BACKLOG_ENDPOINTS endpoints, and the
   delivery table is filled (bulk SQL, no Python per row) to 1, 10,000 and 1,000,000 pending
   deliveries, all due, spread over those endpoints and over many contacts. At each size the
   claim step the worker runs is timed: find the endpoints with something due
   (`due_endpoints`), then claim the next delivery of the first (`claim_next`). The claim is
   undone after each timing (not timed) so every repetition does the same work; the median
   is printed with its ratio to the 1-pending case.

2. Isolation. `shopevents serve` on a fresh database: store A registers `--endpoints`
   endpoints (a local receiver answering 200) and gets `--purchases` purchases, while store B
   sends one page-visit at a time; B's worst and 99th-percentile latency are printed with
   how long A's fan-out took and how many deliveries it wrote.

It runs whatever `shopevents` is importable: `PYTHONPATH=/tmp/before/src python -m bench
claims` measures another source tree the same way.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.dbs import make_database
from bench.targets import INGEST_PATH, ShopeventsTarget

SIZES = (1, 10_000, 1_000_000)
BACKLOG_ENDPOINTS = 100
CONTACTS = 50_000
BODY_BYTES = 400
PAYLOADS = Path(__file__).resolve().parent / "payloads"


# --- 1. the claim step ---------------------------------------------------------------------


def _fill_sql(dialect: str) -> str:
    """INSERT … SELECT of pending deliveries numbered [start, stop) for the store's endpoints
    (parameters: store, now, start, stop)."""
    body = "'" + "x" * BODY_BYTES + "'"
    if dialect == "postgres":
        return (
            "INSERT INTO webhook_deliveries (id, endpoint_id, store_id, topic, body, status, "
            "attempts, next_attempt_at, created_at, updated_at, outbox_id, occurred_at, order_key) "
            f"SELECT 'whd_b' || g, 'whe_b' || lpad(mod(g, {BACKLOG_ENDPOINTS})::text, 4, '0'), %(store)s, "
            f"'purchase.created', convert_to({body}, 'UTF8'), 'pending', 0, %(now)s, %(now)s, "
            f"%(now)s, g, %(now)s, 'c' || mod(g, {CONTACTS}) "
            "FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) g"
        )
    return (
        "WITH RECURSIVE g(n) AS (SELECT :start UNION ALL SELECT n + 1 FROM g WHERE n + 1 < :stop) "
        "INSERT INTO webhook_deliveries (id, endpoint_id, store_id, topic, body, status, "
        "attempts, next_attempt_at, created_at, updated_at, outbox_id, occurred_at, order_key) "
        f"SELECT 'whd_b' || n, 'whe_b' || substr('0000' || (n % {BACKLOG_ENDPOINTS}), -4), :store, "
        f"'purchase.created', CAST({body} AS BLOB), 'pending', 0, :now, :now, :now, n, :now, "
        f"'c' || (n % {CONTACTS}) FROM g"
    )


def _setup(db: Any, now: int) -> str:
    """Migrate, make the store and its endpoints; give the store id."""
    from shopevents.storage import stores

    db.migrate()
    conn = db.connect()
    try:
        with conn.transaction():
            store_id = stores.create_store(conn, "claims-bench", now=now).id
        with conn.transaction():
            for i in range(BACKLOG_ENDPOINTS):
                conn.execute(
                    "INSERT INTO webhook_endpoints (id, store_id, url, secret, topics, enabled, "
                    "created_at, description, updated_at) VALUES (?, ?, ?, 'whsec_x', ?, 1, ?, '', ?)",
                    (
                        f"whe_b{i:04d}",
                        store_id,
                        "http://127.0.0.1:9/",
                        '["purchase.created"]',
                        now,
                        now,
                    ),
                )
        return store_id
    finally:
        conn.close()


def _fill(raw: Any, dialect: str, store_id: str, now: int, start: int, stop: int) -> None:
    sql = _fill_sql(dialect)
    step = 200_000
    for lo in range(start, stop, step):
        hi = min(stop, lo + step)
        raw.execute(sql, {"store": store_id, "now": now, "start": lo, "stop": hi})
        if dialect == "sqlite":
            raw.commit()


def _has_next_due(conn: Any) -> bool:
    try:
        conn.scalar("SELECT next_due_at FROM webhook_endpoints LIMIT 1")
        return True
    except Exception:
        return False


def _time_claims(conn: Any, now: int, budget_s: float, reps: int) -> tuple[float, int]:
    """Median seconds of one claim step (due endpoints, then claim the first one's next
    delivery), undone after each timing; and how many timings were taken."""
    from shopevents.webhooks import claims

    times: list[float] = []
    started = time.perf_counter()
    while len(times) < reps and (len(times) < 3 or time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        due = claims.due_endpoints(conn, now, 16)
        claimed = claims.claim_next(conn, due[0], "bench", now, 60_000_000) if due else None
        times.append(time.perf_counter() - t0)
        if claimed is None:
            raise RuntimeError("nothing was claimed")
        with conn.transaction():
            conn.execute(
                "UPDATE webhook_deliveries SET claimed_until = NULL, claim_token = NULL WHERE id = ?",
                (claimed.id,),
            )
            conn.execute(
                "UPDATE webhook_endpoints SET claimed_until = NULL, claim_token = NULL WHERE id = ?",
                (claimed.endpoint_id,),
            )
    return statistics.median(times), len(times)


def _plans(conn: Any, now: int) -> list[str]:
    """The claim queries' plans at the largest size (new code only)."""
    import importlib

    out: list[str] = []
    sql_due = sql_next = None
    for name in (  # the tree's claim queries, wherever that tree keeps them
        "shopevents.storage.webhook_leases",
        "shopevents.storage.webhook_claims",
        "shopevents.storage.webhook_deliveries",
        "shopevents.webhooks.deliveries",
    ):
        try:
            holder: Any = importlib.import_module(name)
        except ImportError:
            continue
        sql_due = sql_due or getattr(holder, "DUE_ENDPOINTS_SQL", None)
        sql_next = sql_next or getattr(holder, "NEXT_DELIVERY_SQL", None)
    if sql_due is None or sql_next is None:
        return out
    prefix = "EXPLAIN " if conn.dialect == "postgres" else "EXPLAIN QUERY PLAN "
    for sql, params in ((sql_due, (now, now, 16)), (sql_next, ("whe_b0000", now, now))):
        rows = conn.all(prefix + sql, params)
        out.append("\n".join(str(r[-1]) for r in rows))
    return out


def claim_table(backend: str, sizes: tuple[int, ...] = SIZES, reps: int = 25) -> list[dict]:
    from shopevents.clock import SystemClock, to_micros
    from shopevents.storage.database import Database

    bdb = make_database(backend)
    bdb.create()
    rows: list[dict] = []
    try:
        db = Database(bdb.url)
        now = to_micros(SystemClock().now())
        store_id = _setup(db, now)
        conn = db.connect()
        raw = bdb.connect()
        have = 0
        try:
            for size in sizes:
                t0 = time.perf_counter()
                _fill(raw, backend, store_id, now, have, size)
                have = size
                if backend == "postgres":
                    raw.execute("ANALYZE webhook_deliveries")
                    raw.execute("ANALYZE webhook_endpoints")
                if _has_next_due(conn):
                    with conn.transaction():
                        conn.execute(
                            "UPDATE webhook_endpoints SET next_due_at = ? WHERE id IN "
                            "(SELECT DISTINCT endpoint_id FROM webhook_deliveries "
                            "WHERE status = 'pending')",
                            (now,),
                        )
                fill_s = time.perf_counter() - t0
                budget = 60.0 if size >= 1_000_000 else 20.0
                med, n = _time_claims(conn, now + 1, budget, reps)
                rows.append(
                    {"pending": size, "median_ms": med * 1000, "timings": n, "fill_s": fill_s}
                )
                print(
                    f"  {backend:8s} {size:>9,} pending: claim {med * 1000:9.3f} ms "
                    f"(median of {n}; filled in {fill_s:.1f} s)",
                    flush=True,
                )
            for plan in _plans(conn, now + 1):
                print("    plan: " + plan.replace("\n", "\n          "), flush=True)
        finally:
            conn.close()
            raw.close()
            db.close()
    finally:
        bdb.drop()
    base = rows[0]["median_ms"] if rows else 1.0
    for r in rows:
        r["ratio"] = r["median_ms"] / base if base else float("nan")
    return rows


# --- 2. isolation --------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    count = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        _Receiver.count += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _payload(name: str, tag: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_text().replace("{{T}}", tag).encode()


def isolation(backend: str, endpoints: int, purchases: int, max_seconds: float = 90.0) -> dict:
    """Store A (with `endpoints` endpoints) gets `purchases` purchases while store B's
    page-visits are timed one at a time; give B's latencies and A's fan-out figures."""
    import httpx

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    target = ShopeventsTarget(backend, env={"SHOPEVENTS_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true"})
    logdir = Path(os.environ.get("TMPDIR", "/tmp"))
    path_a = target.prepare(logdir)
    store_a = target.store_id
    info = json.loads(target.cli("stores", "create", "quiet", "--json").strip().splitlines()[-1])
    path_b = INGEST_PATH.format(store=info["storeId"])
    # The endpoints are written straight into the table: the same rows `webhooks add` makes,
    # without one process per endpoint (and without the limit, to show what the fan-out does
    # with more endpoints than a store may now register).
    conn = target.db.connect()
    now = int(time.time() * 1_000_000)
    rows = [
        (f"whe_iso{i:05d}", store_a, hook_url, "whsec_x", '["purchase.created"]', 1, now, "", now)
        for i in range(endpoints)
    ]
    mark = "%s" if backend == "postgres" else "?"
    marks = ", ".join([mark] * 9)
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO webhook_endpoints (id, store_id, url, secret, topics, enabled, created_at, "
        f"description, updated_at) VALUES ({marks})",
        rows,
    )
    conn.commit()
    conn.close()
    server = target.server(logdir)
    server.start()
    latencies: list[float] = []
    base = f"http://127.0.0.1:{server.port}"
    done = threading.Event()
    fanout_s = None
    try:
        with httpx.Client(base_url=base, timeout=60) as warm:
            for i in range(20):
                warm.post(path_b, content=_payload("page-visit", f"warm{i}"))

        def visits() -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                i = 0
                while not done.is_set():
                    t0 = time.perf_counter()
                    r = c.post(path_b, content=_payload("page-visit", f"b{i}"))
                    latencies.append(time.perf_counter() - t0)
                    if r.status_code >= 300:
                        raise RuntimeError(f"page-visit answered {r.status_code}")
                    i += 1
                    time.sleep(0.02)

        t = threading.Thread(target=visits, daemon=True)
        t.start()
        started = time.perf_counter()
        with httpx.Client(base_url=base, timeout=120) as c:
            for i in range(purchases):
                c.post(path_a, content=_payload("purchase", f"a{i}"))
        expected = endpoints * purchases
        db_conn = target.db.connect()
        try:
            while time.perf_counter() - started < max_seconds:
                cur = db_conn.execute(
                    "SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL AND topic = 'purchase.created'"
                )
                left = int(cur.fetchone()[0])
                if backend == "postgres":
                    db_conn.commit() if not getattr(db_conn, "autocommit", False) else None
                if left == 0:
                    fanout_s = time.perf_counter() - started
                    break
                time.sleep(0.2)
            time.sleep(1.0)
            cur = db_conn.execute("SELECT COUNT(*) FROM webhook_deliveries")
            written = int(cur.fetchone()[0])
        finally:
            db_conn.close()
        done.set()
        t.join(timeout=150)
    finally:
        done.set()
        server.stop()
        receiver.shutdown()
        target.cleanup()
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return {
        "backend": backend,
        "endpoints": endpoints,
        "purchases": purchases,
        "expected_deliveries": expected,
        "deliveries_written": written,
        "fanout_s": fanout_s,
        "visits": len(lat),
        "visit_median_ms": statistics.median(lat) * 1000 if lat else None,
        "visit_p99_ms": p99 * 1000,
        "visit_max_ms": lat[-1] * 1000 if lat else None,
    }


# --- the command ---------------------------------------------------------------------------


def run(
    backends: list[str],
    *,
    sizes: tuple[int, ...] = SIZES,
    reps: int = 25,
    endpoints: list[int] | None = None,
    purchases: int = 400,
    skip_isolation: bool = False,
    skip_claims: bool = False,
) -> int:
    tables: dict[str, list[dict]] = {}
    for backend in [] if skip_claims else backends:
        print(f"claim step, {backend}:", flush=True)
        tables[backend] = claim_table(backend, sizes, reps)
    if tables:
        print()
        print("| backend | pending deliveries | claim step (median) | ratio to 1 pending |")
        print("|---|---:|---:|---:|")
    for backend, rows in tables.items():
        for r in rows:
            print(f"| {backend} | {r['pending']:,} | {r['median_ms']:.3f} ms | {r['ratio']:.2f}× |")
    if skip_isolation:
        return 0
    results = []
    for backend in backends:
        for n in endpoints or [25]:
            print(f"isolation, {backend}, {n} endpoints, {purchases} purchases …", flush=True)
            results.append(isolation(backend, n, purchases))
    print()
    print(
        "| backend | endpoints | purchases | deliveries written | fan-out done in | "
        "other store's page-visits | median | p99 | worst |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        fan = "—" if r["fanout_s"] is None else f"{r['fanout_s']:.1f} s"
        print(
            f"| {r['backend']} | {r['endpoints']:,} | {r['purchases']} | "
            f"{r['deliveries_written']:,} of {r['expected_deliveries']:,} | {fan} | {r['visits']} | "
            f"{r['visit_median_ms']:.1f} ms | {r['visit_p99_ms']:.1f} ms | {r['visit_max_ms']:.1f} ms |"
        )
    return 0
