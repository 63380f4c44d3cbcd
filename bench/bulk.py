"""Scenarios on a large seeded database: abandonment (1M open carts) and reports
(1M purchases, 10M events). Seeding goes straight into the schema (bench/seed.py).

Core functions used (see bench/core_api.py for the single place they are called):
  shopevents.worker.abandonment.mark_due_abandoned(conn, clock, limit) -> int
  shopevents.reports.overview(...)
"""

from __future__ import annotations

import random
import statistics
import time
import traceback
from pathlib import Path

from bench import core_api, seed
from bench.procs import proc_cpu_seconds
from bench.targets import ShopeventsTarget

FAR = 86_400 * 1_000_000  # a day, in microseconds


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def _db_cpu(db) -> float:
    return sum(proc_cpu_seconds(pid) for pid in db.server_pids())


# -- abandonment -------------------------------------------------------------------------


def _set_deadlines(db, pairs: list[tuple[int, int]]) -> None:
    conn = db.connect()
    try:
        sql = "UPDATE carts SET abandon_at = {} WHERE id = {}".format(
            *(("?", "?") if db.backend == "sqlite" else ("%s", "%s"))
        )
        if db.backend == "sqlite":
            with conn:
                conn.executemany(sql, [(t, i) for i, t in pairs])
        else:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(sql, [(t, i) for i, t in pairs])
    finally:
        conn.close()


def _abandoned_since(db, after_id: int) -> list[tuple[int, int, int]]:
    """(transition id, cart row, at) of abandonments recorded after `after_id`."""
    conn = db.connect()
    try:
        mark = "?" if db.backend == "sqlite" else "%s"
        cur = conn.execute(
            "SELECT id, cart_row, at FROM cart_transitions "
            f"WHERE to_state = 'abandoned' AND id > {mark} ORDER BY id",
            (after_id,),
        )
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def _max_transition(db) -> int:
    conn = db.connect()
    try:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM cart_transitions").fetchone()[0])
    finally:
        conn.close()


def live_lag(
    target: ShopeventsTarget, logdir: Path, chosen: list[int], window_s: float, log
) -> dict:
    """Deadlines spread over `window_s` seconds; `shopevents serve` (its worker inside) runs
    on the server core; lag = time recorded in cart_transitions minus the deadline."""
    db = target.db
    base = _max_transition(db)
    lead_s = 4.0
    start = seed.now_us() + int(lead_s * 1e6)
    step = int(window_s * 1e6) // max(1, len(chosen))
    deadlines = {cart: start + k * step for k, cart in enumerate(chosen)}
    _set_deadlines(db, list(deadlines.items()))
    server = target.server(logdir)
    server.start()
    try:
        # idle baseline until the first deadline
        c0 = server.cpu_seconds()
        t0 = time.monotonic()
        wait = start / 1e6 - time.time()
        if wait > 0:
            time.sleep(wait)
        c1 = server.cpu_seconds()
        t1 = time.monotonic()
        idle_rate = (sum(c1) - sum(c0)) / (t1 - t0) if t1 > t0 else 0.0
        end = time.time() + window_s + 30
        done = []
        while time.time() < end:
            time.sleep(1.0)
            done = _abandoned_since(db, base)
            if len(done) >= len(chosen) and time.time() > start / 1e6 + window_s:
                break
        c2 = server.cpu_seconds()
        t2 = time.monotonic()
    finally:
        server.stop()
    done = _abandoned_since(db, base)
    lags = []
    unexpected = 0
    for _tid, cart, at in done:
        if cart in deadlines:
            lags.append((at - deadlines[cart]) / 1e6)
        else:
            unexpected += 1
    early = sum(1 for x in lags if x < 0)
    cpu_total = sum(c2) - sum(c1)
    cpu_worker = max(0.0, cpu_total - idle_rate * (t2 - t1))
    return {
        "due": len(chosen),
        "abandoned": len(lags),
        "unexpected": unexpected,
        "early": early,
        "lag_p50_s": _pct(lags, 50),
        "lag_p99_s": _pct(lags, 99),
        "lag_max_s": max(lags) if lags else None,
        "cpu_us_per_cart": cpu_worker / len(lags) * 1e6 if lags else None,
        "cpu_total_s": cpu_total,
        "idle_cpu_rate": idle_rate,
    }


def inprocess_cost(target: ShopeventsTarget, chosen: list[int], limit: int) -> dict:
    """Make `chosen` due at once and call mark_due_abandoned in a loop, as the worker does."""
    db = target.db
    past = seed.now_us() - 1_000_000
    _set_deadlines(db, [(c, past) for c in chosen])
    conn = core_api.open_conn(db.url)
    try:
        polls = []
        cpu_db0 = _db_cpu(db)
        cpu0 = time.process_time()
        w0 = time.perf_counter()
        total = 0
        while True:
            n = core_api.mark_due_abandoned(conn, limit)
            total += n
            if n == 0:
                break
        wall = time.perf_counter() - w0
        cpu = time.process_time() - cpu0
        cpu_db = _db_cpu(db) - cpu_db0
        for _ in range(20):
            p0 = time.perf_counter()
            core_api.mark_due_abandoned(conn, limit)
            polls.append(time.perf_counter() - p0)
    finally:
        conn.close()
    return {
        "marked": total,
        "inproc_us_per_cart": (cpu + cpu_db) / total * 1e6 if total else None,
        "inproc_db_us_per_cart": cpu_db / total * 1e6 if total and cpu_db else None,
        "inproc_carts_per_s": total / wall if wall else None,
        "empty_poll_ms": statistics.median(polls) * 1000,
    }


def abandonment(backend: str, a, logdir: Path, log) -> list[dict]:
    target = ShopeventsTarget(backend)
    target.prepare(logdir)
    db = target.db
    store = target.store_id
    rows = []
    try:
        top = a.carts
        sizes = sorted({max(1000, top // 100), max(1000, top // 10), top})
        due = max(100, min(10_000, sizes[0] // 2))
        rnd = random.Random(11)
        used: set[int] = set()
        have = 0
        for open_target in sizes:
            # carts abandoned at earlier steps are no longer open: seed past them
            n = open_target + len(used)
            t = time.monotonic()
            at = seed.now_us()
            seed.insert_rows(
                db, "contacts", seed.CONTACT_COLUMNS, seed.contacts(store, have, n, at)
            )
            seed.insert_rows(
                db, "carts", seed.CART_COLUMNS, seed.carts(store, have, n, at, at + FAR)
            )
            have = n
            seed.analyze(db)
            log(f"    {open_target:,} open carts ({n:,} seeded) in {time.monotonic() - t:.0f} s")

            def pick(k: int, n: int = n) -> list[int]:
                out: list[int] = []
                while len(out) < k:
                    c = rnd.randint(1, n)
                    if c not in used:
                        used.add(c)
                        out.append(c)
                return out

            open_now = n - len(used)
            live = live_lag(target, logdir, pick(due), window_s=10.0, log=log)
            cost = inprocess_cost(target, pick(due), limit=500)
            row = {"open_carts": open_now, **live, **cost}
            log(
                f"    {open_now:,} open: lag p50 {live['lag_p50_s']}, p99 {live['lag_p99_s']} s; "
                f"{cost['inproc_us_per_cart']} us/cart in-process, worker "
                f"{live['cpu_us_per_cart']} us/cart; empty poll {cost['empty_poll_ms']:.2f} ms"
            )
            rows.append(row)
    finally:
        target.cleanup()
    return rows


# -- reports -----------------------------------------------------------------------------


def reports(backend: str, a, logdir: Path, log) -> list[dict]:
    target = ShopeventsTarget(backend)
    target.prepare(logdir)
    db = target.db
    store = target.store_id
    out = []
    try:
        end = seed.now_us()
        days = 365
        contacts_n = max(1, a.purchases // 5)
        t = time.monotonic()
        seed.insert_rows(
            db, "contacts", seed.CONTACT_COLUMNS, seed.contacts(store, 0, contacts_n, end)
        )
        pairs = seed.purchases(store, a.purchases, contacts_n, end, days)
        lines: list[tuple] = []

        def purchase_rows():
            for row, line in pairs:
                lines.append(line)
                yield row

        seed.insert_rows(db, "purchases", seed.PURCHASE_COLUMNS, purchase_rows())
        seed.insert_rows(db, "purchase_lines", seed.LINE_COLUMNS, lines)
        lines.clear()
        refunded = seed.insert_rows(
            db,
            "purchase_adjustments",
            seed.ADJUSTMENT_COLUMNS,
            seed.adjustments(store, a.purchases, end, days),
        )
        t_p = time.monotonic() - t
        log(f"    seeded {a.purchases:,} purchases ({refunded:,} refunded) in {t_p:.0f} s")
        t = time.monotonic()
        seed.insert_rows(
            db, "events", seed.EVENT_COLUMNS, seed.events(store, a.events, contacts_n, end, days)
        )
        t_e = time.monotonic() - t
        log(f"    seeded {a.events:,} events in {t_e:.0f} s")
        t = time.monotonic()
        seed.analyze(db)
        log(f"    ANALYZE in {time.monotonic() - t:.0f} s")
        size = db.size_bytes()
        have_core = core_api.overview_available()
        for label, span_days in (("last 30 days", 30), ("last 365 days", 365)):
            start = end - span_days * seed.DAY_US
            calls = 1 + max(3, a.runs)
            kinds = [("reference SQL", lambda s0=start: reference_overview(db, store, s0, end))]
            if have_core:
                kinds.insert(
                    0,
                    (
                        "shopevents overview",
                        lambda s0=start: core_api.overview(db.url, store, s0, end),
                    ),
                )
            for kind, fn in kinds:
                times = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - t0)
                row = {
                    "query": kind,
                    "range": label,
                    "first_s": times[0],
                    "median_s": statistics.median(times[1:]),
                    "max_s": max(times[1:]),
                    "calls": len(times),
                    "db_bytes": size,
                    "seed_purchases_s": t_p,
                    "seed_events_s": t_e,
                }
                log(f"    {kind} {label}: first {times[0]:.3f} s, median {row['median_s']:.3f} s")
                out.append(row)
        if not have_core:
            out.append({"query": "shopevents overview", "missing": core_api.overview_missing()})
    finally:
        target.cleanup()
    return out


REFERENCE_SQL = [
    # revenue and orders per day and source
    "SELECT purchased_at / 86400000000 AS day, coalesce(source_type, 'unspecified'), count(*), "
    "sum(total_price) FROM purchases WHERE store_id = {p} AND purchased_at >= {p} "
    "AND purchased_at < {p} GROUP BY 1, 2",
    # events by outcome per day
    "SELECT received_at / 86400000000 AS day, status, count(*) FROM events "
    "WHERE store_id = {p} AND received_at >= {p} AND received_at < {p} GROUP BY 1, 2",
    # top products by revenue
    "SELECT product_id, sum(price), sum(quantity) FROM purchase_lines WHERE store_id = {p} "
    "AND purchased_at >= {p} AND purchased_at < {p} GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
]


def reference_overview(db, store: str, start: int, end: int) -> None:
    """What a plain-SQL overview costs on the same data: revenue/orders by day and source,
    events by outcome by day, top products. A yardstick next to the core's report."""
    conn = db.connect()
    try:
        p = "?" if db.backend == "sqlite" else "%s"
        for sql in REFERENCE_SQL:
            conn.execute(sql.format(p=p), (store, start, end)).fetchall()
    finally:
        conn.close()


# -- entry -------------------------------------------------------------------------------


def _fmt(v, f):
    return "–" if v is None else f.format(v)


def run(name: str, backends: list[str], a, logdir: Path, log=print) -> dict:
    results: dict[str, list[dict]] = {}
    errors: dict[str, str] = {}
    for backend in backends:
        log(f"  [{name}] {backend} ...")
        try:
            fn = abandonment if name == "abandonment" else reports
            results[backend] = fn(backend, a, logdir, log)
        except Exception as exc:
            errors[backend] = f"{type(exc).__name__}: {exc}"
            (logdir / f"{name}-{backend}.error.txt").write_text(traceback.format_exc())
            log(f"    failed: {errors[backend][:400]}")
    if name == "abandonment":
        return _abandonment_block(results, errors, a)
    return _reports_block(results, errors, a)


def _abandonment_block(results, errors, a) -> dict:
    headers = [
        "backend",
        "open carts",
        "due",
        "abandoned",
        "lag p50 (s)",
        "lag p99 (s)",
        "lag max (s)",
        "worker CPU/cart in serve (µs)",
        "CPU/cart in-process (µs)",
        "  of which PostgreSQL (µs)",
        "carts/s in-process",
        "idle poll (ms)",
    ]
    rows = []
    goal_lines = []
    for backend, rs in results.items():
        for r in rs:
            rows.append(
                [
                    backend,
                    f"{r['open_carts']:,}",
                    f"{r['due']:,}",
                    f"{r['abandoned']:,}"
                    + (
                        ""
                        if not (r["unexpected"] or r["early"])
                        else f" ({r['unexpected']} unexpected, {r['early']} early)"
                    ),
                    _fmt(r["lag_p50_s"], "{:.3f}"),
                    _fmt(r["lag_p99_s"], "{:.3f}"),
                    _fmt(r["lag_max_s"], "{:.3f}"),
                    _fmt(r["cpu_us_per_cart"], "{:.0f}"),
                    _fmt(r["inproc_us_per_cart"], "{:.0f}"),
                    _fmt(r["inproc_db_us_per_cart"], "{:.0f}"),
                    _fmt(r["inproc_carts_per_s"], "{:,.0f}"),
                    _fmt(r["empty_poll_ms"], "{:.2f}"),
                ]
            )
        if rs:
            top = rs[-1]
            ok = (
                top["lag_p99_s"] is not None
                and top["lag_p99_s"] <= 2
                and top["abandoned"] == top["due"]
            )
            goal_lines.append(
                f"goal abandonment {backend}: lag p99 ≤ 2 s with {top['open_carts']:,} open carts → "
                f"{_fmt(top['lag_p99_s'], '{:.3f}')} s {'(met)' if ok else '(missed)'}"
            )
    return {
        "kind": "bulk",
        "scenario": "abandonment",
        "description": (
            f"abandonment: {a.carts:,} open carts seeded in steps; at each step a set of carts "
            "falls due over 10 s while `shopevents serve` runs (worker inside, default 1 s "
            "interval), then another set is made due at once and `mark_due_abandoned` is "
            "called in a loop in-process (limit 500). Lag = recorded abandonment time − deadline."
        ),
        "headers": headers,
        "rows": rows,
        "goal_lines": goal_lines,
        "notes": [
            "worker CPU/cart in serve: server CPU during the window minus its idle rate before it, per abandoned cart",
            "idle poll: one mark_due_abandoned call with nothing due (the deadline index at work)",
        ],
        "results": results,
        "errors": errors,
    }


def _reports_block(results, errors, a) -> dict:
    headers = [
        "backend",
        "query",
        "range",
        "first call (s)",
        "median (s)",
        "max (s)",
        "database size (GB)",
    ]
    rows = []
    goal_lines = []
    notes = []
    for backend, rs in results.items():
        for r in rs:
            if "missing" in r:
                notes.append(f"{backend}: shopevents overview not measured: {r['missing']}")
                continue
            rows.append(
                [
                    backend,
                    r["query"],
                    r["range"],
                    f"{r['first_s']:.3f}",
                    f"{r['median_s']:.3f}",
                    f"{r['max_s']:.3f}",
                    f"{r['db_bytes'] / 1e9:.2f}",
                ]
            )
        core = [r for r in rs if r.get("query") == "shopevents overview" and "median_s" in r]
        if core:
            worst = max(r["median_s"] for r in core)
            goal_lines.append(
                f"goal reports {backend}: overview ≤ 1 s → median {worst:.3f} s over the widest "
                f"range {'(met)' if worst <= 1 else '(missed)'}"
            )
    return {
        "kind": "bulk",
        "scenario": "reports",
        "description": (
            f"reports: the overview report over {a.purchases:,} purchases (with lines) and "
            f"{a.events:,} events spread over a year, seeded with direct inserts; "
            f"timed in-process (first call, then the median of the following calls)"
        ),
        "headers": headers,
        "rows": rows,
        "goal_lines": goal_lines,
        "notes": [
            *notes,
            "reference SQL: revenue/orders per day and source, events by outcome per day, "
            "top 10 products (bench/bulk.py REFERENCE_SQL), on the same data",
        ],
        "results": results,
        "errors": errors,
    }
