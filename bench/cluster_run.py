"""python -m bench run --mode cluster: cluster mode measured with the same loads and the same
in-run raw-ASGI reference as the embedded runs.

One run of one topology (`--topologies 1x1,2x2`: collectors x processors) = a fresh
PostgreSQL database, a fresh 3-node JetStream cluster, `cluster init`, the collectors (pinned
to core 0, as `serve` is) and processors (left to the scheduler), then:

1. warm-up: wrk on every collector, then wait until processors applied it;
2. saturation: wrk (closed loop) on every collector: collector CPU per request; then wait
   until processors applied every acknowledged request: processor, PostgreSQL and NATS CPU
   per event over the saturation phase and its drain;
3. fixed rate: the offered rate (5,000 req/s) split evenly over the collectors (open loop,
   bench/fixedrate.py): p50/p99 acknowledgement; a lag probe posts 10 page-visits/s (each a
   new e-mail) through collector 1 and polls `GET /api/contacts/{email}` on the last
   collector every 10 ms from its `200`: the end-to-end lag (acknowledged → visible through
   the REST API); then the drain again: per-event CPU of each role at that rate.

After the run the database is counted: every acknowledged request must be stored (at most the
closed-loop phases' in-flight requests more). CPU comes from /proc: collector and processor
process sessions, the three nats-server processes, and the PostgreSQL backends of the run's
database (found by their process title)."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.cluster import Deployment, wait_applied
from bench.dbs import PostgresDatabase
from bench.http_scenarios import HTTP_SCENARIOS, PAYLOADS, HttpOptions, HttpScenario, run_once
from bench.loadgen import Load, PhaseResult, run_fixed, run_wrk
from bench.procs import CpuTracker
from bench.table import grid
from bench.targets import RawAsgiTarget, ShopeventsTarget

PROBE_RATE = 10.0  # lag probes per second
# Seconds between two reads of one probe: from 10 ms, growing by a quarter each read, at most
# 200 ms, so a lag is measured within a quarter of itself (at most 10 ms below 40 ms) and the
# reads of the probes waiting add a bounded load (about 50/s per second of lag) to the
# collector they read from, however long the lag.
PROBE_POLL = 0.01
PROBE_POLL_GROWTH = 1.25
PROBE_POLL_MAX = 0.2
PROBE_GIVE_UP = 30.0
# The second fixed-rate phase offers this share of the deployment's own saturation rate.
CARRIED_SHARE = 0.5


def parse_topologies(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        c, sep, p = part.strip().partition("x")
        if (
            not sep
            or not c.isdigit()
            or not p.isdigit()
            or not (1 <= int(c) <= 4)
            or not (1 <= int(p) <= 4)
        ):
            raise SystemExit(
                f"--topologies: expected COLLECTORSxPROCESSORS (1..4 each), got {part!r}"
            )
        out.append((int(c), int(p)))
    return out


class LagProber:
    """Page-visits of new contacts posted through one collector; each polled through the REST
    API of another until its contact is there."""

    def __init__(self, post_port: int, get_port: int, path: str, api_key: str) -> None:
        self.post_port = post_port
        self.get_port = get_port
        self.path = path
        self.api_key = api_key
        self.stop_event = threading.Event()
        self.lags: list[float] = []
        self.unseen = 0
        self.acked = 0
        self.failed = 0
        self.reads = 0
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.tag = uuid.uuid4().hex[:8]

    def _probe(self, i: int) -> None:
        email = f"lag-{self.tag}-{i}@example.com"
        body = json.dumps(
            {"requestId": uuid.uuid4().hex, "events": [{"type": "page-visit"}],
             "entityInfo": {"primaryKey": email}}
        )  # fmt: skip
        post = http.client.HTTPConnection("127.0.0.1", self.post_port, timeout=10)
        try:
            post.request("POST", self.path, body, {"Content-Type": "text/plain"})
            r = post.getresponse()
            r.read()
            if r.status != 200:
                with self.lock:
                    self.failed += 1
                return
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.failed += 1
            return
        finally:
            post.close()
        acked = time.perf_counter()
        with self.lock:
            self.acked += 1
        get = http.client.HTTPConnection("127.0.0.1", self.get_port, timeout=10)
        pause = PROBE_POLL
        try:
            while time.perf_counter() - acked < PROBE_GIVE_UP:
                with self.lock:
                    self.reads += 1
                get.request("GET", f"/api/contacts/{email}",
                            headers={"Authorization": f"apiKey {self.api_key}"})  # fmt: skip
                r = get.getresponse()
                r.read()
                if r.status == 200:
                    with self.lock:
                        self.lags.append(time.perf_counter() - acked)
                    return
                time.sleep(pause)
                pause = min(pause * PROBE_POLL_GROWTH, PROBE_POLL_MAX)
            with self.lock:
                self.unseen += 1
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.unseen += 1
        finally:
            get.close()

    def _run(self) -> None:
        t0 = time.perf_counter()
        i = 0
        while not self.stop_event.is_set():
            t = threading.Thread(target=self._probe, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
            i += 1
            self.stop_event.wait(max(0.0, t0 + i / PROBE_RATE - time.perf_counter()))

    def start(self) -> LagProber:
        self.runner = threading.Thread(target=self._run, daemon=True)
        self.runner.start()
        return self

    def stop(self) -> dict:
        self.stop_event.set()
        self.runner.join()
        for t in self.threads:
            t.join(PROBE_GIVE_UP + 15)
        lags = sorted(self.lags)

        def pct(p: float) -> float | None:
            if not lags:
                return None
            return lags[min(len(lags) - 1, max(0, round(p / 100 * len(lags) + 0.5) - 1))] * 1e3

        return {
            "probes": len(self.threads),
            "acked": self.acked,
            "failed": self.failed,
            "unseen": self.unseen,
            "reads": self.reads,
            "lag_p50_ms": pct(50),
            "lag_p99_ms": pct(99),
            "lag_max_ms": pct(100),
        }


def _wal_bytes(db: PostgresDatabase) -> float:
    """The server's WAL position in bytes (every database of the server writes to it)."""
    with db.connect() as conn:
        return float(conn.execute("SELECT pg_current_wal_lsn() - '0/0'").fetchone()[0])


CLAIM_SQL = (
    "INSERT INTO purchase_claims (store_id, purchase_id, fingerprint, claimed_at) "
    "SELECT %s, x.p, x.f, %s FROM unnest(%s::text[], %s::text[]) AS x(p, f) "
    "ON CONFLICT DO NOTHING RETURNING purchase_id"
)


def claim_cost(n: int = 2000) -> dict:
    """The purchase authority's statement (cluster/claims.py) alone: `n` new purchaseIds
    claimed one statement and one commit each, then the same `n` again (all duplicates):
    wall time per claim on this connection and the PostgreSQL backend's CPU per claim."""
    from bench.procs import proc_cpu_seconds

    db = PostgresDatabase()
    db.create()
    try:
        from bench.cluster import shopevents

        shopevents(db.url, "migrate")
        out: dict = {}
        with db.connect() as conn:
            backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            ids = [uuid.uuid4().hex for _ in range(n)]
            for label in ("new", "again"):
                cpu0, t0 = proc_cpu_seconds(backend), time.perf_counter()
                for pid in ids:
                    conn.execute(CLAIM_SQL, ("store", 1, [pid], ["fp"])).fetchall()
                wall, cpu = time.perf_counter() - t0, proc_cpu_seconds(backend) - cpu0
                out[label] = {"wall_us": wall / n * 1e6, "postgres_cpu_us": cpu / n * 1e6}
        return out
    finally:
        db.drop()


def _parallel(fn, ports: list[int]) -> list[PhaseResult]:
    with ThreadPoolExecutor(len(ports)) as pool:
        return list(pool.map(fn, ports))


def _us(seconds: float, count: int) -> float | None:
    return seconds / count * 1e6 if count else None


def target_name(topo: tuple[int, int], variant: str = "") -> str:
    return f"cluster-{topo[0]}x{topo[1]}" + (f"-{variant}" if variant else "")


def cluster_once(scn: HttpScenario, topo: tuple[int, int], opts: HttpOptions, logdir: Path,
                 profile_dir: Path | None = None,
                 variant: tuple[str, dict[str, str]] = ("", {})) -> dict:  # fmt: skip
    nc, np_ = topo
    name = target_name(topo, variant[0])
    db = PostgresDatabase()
    db.create()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    dep = Deployment(db.url, workdir, collectors=nc, processors=np_, env=variant[1])
    pg = CpuTracker()
    sampling = threading.Event()

    def sample_pg() -> None:
        while not sampling.is_set():
            pg.update(db.server_pids())
            sampling.wait(0.25)

    def snap() -> dict[str, float]:
        pg.update(db.server_pids())
        return {**dep.cpu(), "postgres": pg.total(), "wal": _wal_bytes(db)}

    threading.Thread(target=sample_pg, daemon=True).start()
    result: dict = {"target": name, "collectors": nc, "processors": np_}
    load_before = os.getloadavg()[0]
    try:
        dep.start()
        ports = [c.port for c in dep.collectors]
        load = Load(PAYLOADS / scn.template, dep.ingest_path, scn.dup_every, scn.dup_back)
        conns = max(1, opts.connections // nc)
        warm = _parallel(lambda p: run_wrk(p, load, opts.warmup, conns), ports)
        acked = sum(w.ok2xx for w in warm)
        slack = sum(w.inflight_max for w in warm)
        wait_applied(db.connect, acked)

        c0 = snap()
        spies = _profile_start(dep, opts.duration, profile_dir) if profile_dir else []
        t0 = time.monotonic()
        sat = _parallel(lambda p: run_wrk(p, load, opts.duration, conns), ports)
        c1 = snap()
        sat_ok = sum(s.ok2xx for s in sat)
        sat_events = sum(s.acked_events for s in sat)
        acked += sat_ok
        slack += sum(s.inflight_max for s in sat)
        drain_sat = wait_applied(db.connect, acked)
        c2 = snap()
        for spy in spies:
            spy.join()
        wall_sat = time.monotonic() - t0

        rate = opts.rate or scn.fixed_rate

        def fixed_phase(offered: float) -> tuple[list[PhaseResult], dict, dict, dict]:
            """Open loop at `offered` req/s with the lag probe, then the drain: the phase's
            results, its lag, and the CPU snapshots after the load and after the drain."""
            nonlocal acked
            prober = LagProber(ports[0], ports[-1], dep.ingest_path, dep.api_key).start()
            phase = _parallel(
                lambda p: run_fixed(p, load, offered / nc, opts.duration,
                                    max(1, opts.fixed_connections // nc)),
                ports,
            )  # fmt: skip
            lag = prober.stop()
            after_load = snap()
            acked += sum(f.ok2xx for f in phase) + lag["acked"]
            drained = wait_applied(db.connect, acked)
            after_drain = snap()
            lag["drain_s"] = drained
            return phase, lag, after_load, after_drain

        fixed, lag, c3, c4 = fixed_phase(rate)
        fixed_ok = sum(f.ok2xx for f in fixed)
        fixed_events = sum(f.acked_events for f in fixed) + lag["acked"]
        drain_fixed = lag["drain_s"]
        carried_rate = float(max(100, round(sum(s.rps for s in sat) * CARRIED_SHARE, -2)))
        carried, carried_lag, c5, _ = fixed_phase(carried_rate)
        counts = db.counts()
    finally:
        sampling.set()
        dep.stop()
        with contextlib.suppress(Exception):
            db.drop()
        if not (logdir / name).exists():
            shutil.copytree(workdir, logdir / name, ignore=shutil.ignore_patterns("n[0-9]"))
        shutil.rmtree(workdir, ignore_errors=True)

    def delta(a: dict, b: dict, role: str) -> float:
        return b[role] - a[role]

    stored = counts.get("requests") or 0
    parts = [
        _us(delta(c0, c1, "collector"), sat_events),
        _us(delta(c0, c2, "processor"), sat_events),
        _us(delta(c0, c2, "postgres"), sat_events),
        _us(delta(c0, c2, "nats"), sat_events),
    ]
    result["total_us_per_event"] = sum(parts) if all(p is not None for p in parts) else None
    result.update(
        {
            "sat_rps": sum(s.rps for s in sat),
            "sat_p99_ms": max(s.latency_us["p99"] or 0 for s in sat) / 1000,
            "sat_drain_s": drain_sat,
            "sat_wall_s": wall_sat,
            "collector_us_per_req": _us(delta(c0, c1, "collector"), sat_ok),
            "processor_us_per_event": _us(delta(c0, c2, "processor"), sat_events),
            "postgres_us_per_event": _us(delta(c0, c2, "postgres"), sat_events),
            "nats_us_per_event": _us(delta(c0, c2, "nats"), sat_events),
            "fixed_rate": rate,
            "fixed_rps": sum(f.extra["achieved_rps"] for f in fixed),
            "fixed_p50_ms": max(f.latency_us["p50"] or 0 for f in fixed) / 1000,
            "fixed_p99_ms": max(f.latency_us["p99"] or 0 for f in fixed) / 1000,
            "fixed_p999_ms": max(f.latency_us["p999"] or 0 for f in fixed) / 1000,
            "fixed_unsent": sum(f.extra["unsent"] + f.extra["dropped"] for f in fixed),
            "fixed_non200": sum(f.other_status + f.errors for f in fixed),
            "fixed_collector_us_per_req": _us(delta(c2, c3, "collector"), fixed_ok),
            "fixed_processor_us_per_event": _us(delta(c2, c4, "processor"), fixed_events),
            "fixed_postgres_us_per_event": _us(delta(c2, c4, "postgres"), fixed_events),
            "fixed_nats_us_per_event": _us(delta(c2, c4, "nats"), fixed_events),
            "wal_bytes_per_event": delta(c0, c2, "wal") / sat_events if sat_events else None,
            "fixed_drain_s": drain_fixed,
            "lag_p50_ms": lag["lag_p50_ms"],
            "lag_p99_ms": lag["lag_p99_ms"],
            "lag_max_ms": lag["lag_max_ms"],
            "lag": lag,
            "carried_rate": carried_rate,
            "carried_rps": sum(f.extra["achieved_rps"] for f in carried),
            "carried_p50_ms": max(f.latency_us["p50"] or 0 for f in carried) / 1000,
            "carried_p99_ms": max(f.latency_us["p99"] or 0 for f in carried) / 1000,
            "carried_collector_us_per_req": _us(
                delta(c4, c5, "collector"), sum(f.ok2xx for f in carried)
            ),
            "carried_lag_p50_ms": carried_lag["lag_p50_ms"],
            "carried_lag_p99_ms": carried_lag["lag_p99_ms"],
            "carried_lag": carried_lag,
            "non200": sum(p.other_status for p in [*warm, *sat, *fixed, *carried]),
            "loadavg": (load_before + os.getloadavg()[0]) / 2,
            "acked_requests": acked,
            "stored_requests": stored,
            "durability_ok": acked <= stored <= acked + slack,
            "counts": counts,
        }
    )
    return result


class _Spy(threading.Thread):
    def __init__(self, pid: int, duration: float, out: Path) -> None:
        super().__init__(daemon=True)
        self.argv = [_py_spy(), "record", "--pid", str(pid), "--rate", "200", "--gil", "--duration",
                     str(int(duration)), "--format", "raw", "--output", str(out)]  # fmt: skip
        self.out = out

    def run(self) -> None:
        import subprocess

        subprocess.run(self.argv, capture_output=True, timeout=300)


def _py_spy() -> str:
    from bench.profile import py_spy

    return py_spy()


def _profile_start(dep: Deployment, duration: float, out: Path) -> list[_Spy]:
    spies = []
    for role, procs in (("collector", dep.collectors[:1]), ("processor", dep.processors[:1])):
        for p in procs:
            assert p.proc is not None
            spy = _Spy(p.proc.pid, duration, out / f"{role}.collapsed")
            spy.start()
            spies.append(spy)
    return spies


ROWS = [
    ("req/s at saturation (wrk, all collectors)", "sat_rps", "{:,.0f}"),
    ("collector CPU per request at saturation (µs)", "collector_us_per_req", "{:.1f}"),
    ("  ×raw ASGI per core (reference µs ÷ collector µs)", "ratio_collector", "{:.2f}×"),
    ("processor CPU per event (µs)", "processor_us_per_event", "{:.1f}"),
    ("PostgreSQL backends' CPU per event (µs)", "postgres_us_per_event", "{:.1f}"),
    ("NATS (3 nodes) CPU per event (µs)", "nats_us_per_event", "{:.1f}"),
    ("all roles' CPU per event (µs)", "total_us_per_event", "{:.1f}"),
    ("WAL bytes per event (the whole server's WAL)", "wal_bytes_per_event", "{:,.0f}"),
    ("processors' drain after saturation (s)", "sat_drain_s", "{:.1f}"),
    ("req/s achieved at fixed rate", "fixed_rps", "{:,.0f}"),
    ("p50 ack at fixed rate (ms)", "fixed_p50_ms", "{:.2f}"),
    ("p99 ack at fixed rate (ms)", "fixed_p99_ms", "{:.2f}"),
    ("p99.9 ack at fixed rate (ms)", "fixed_p999_ms", "{:.2f}"),
    ("collector CPU per request at fixed rate (µs)", "fixed_collector_us_per_req", "{:.1f}"),
    ("processor CPU per event at fixed rate (µs)", "fixed_processor_us_per_event", "{:.1f}"),
    ("PostgreSQL CPU per event at fixed rate (µs)", "fixed_postgres_us_per_event", "{:.1f}"),
    ("NATS CPU per event at fixed rate (µs)", "fixed_nats_us_per_event", "{:.1f}"),
    ("lag ack → visible in REST API, p50 (ms)", "lag_p50_ms", "{:.0f}"),
    ("lag ack → visible in REST API, p99 (ms)", "lag_p99_ms", "{:.0f}"),
    ("processors' drain after the fixed rate (s)", "fixed_drain_s", "{:.1f}"),
    ("carried rate: half the saturation rate (req/s offered)", "carried_rate", "{:,.0f}"),
    ("  req/s achieved", "carried_rps", "{:,.0f}"),
    ("  p50 / p99 ack (ms)", "carried_ack", "{}"),
    ("  collector CPU per request (µs)", "carried_collector_us_per_req", "{:.1f}"),
    ("  lag ack → visible in REST API, p50 / p99 (ms)", "carried_lag", "{}"),
    ("machine's load average (1 min) during the run", "loadavg", "{:.1f}"),
]
DERIVED = ("ratio_collector", "carried_ack", "carried_lag")
NUMERIC = [key for _, key, _ in ROWS if key not in DERIVED] + [
    "lag_max_ms", "carried_p50_ms", "carried_p99_ms", "carried_lag_p50_ms", "carried_lag_p99_ms"
]  # fmt: skip


def median_of(runs: list[dict]) -> dict:
    out: dict = {"runs": len(runs)}
    for key in NUMERIC:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
        if values:
            out[key + "_range"] = [min(values), max(values)]
    out["durability_ok"] = all(r["durability_ok"] for r in runs)
    out["non200"] = sum(r["non200"] for r in runs)
    out["fixed_unsent"] = sum(r["fixed_unsent"] for r in runs)
    out["lag_unseen"] = sum(r["lag"]["unseen"] + r["carried_lag"]["unseen"] for r in runs)
    return out


def render(doc: dict, markdown: bool = False) -> str:
    res = doc["results"]
    ref = res.get("raw-asgi", {})
    epr = doc.get("events_per_request", 1)
    ref_us = ref["cpu_us_per_event"] * epr if ref.get("cpu_us_per_event") else None
    names = [n for n in res if n.startswith("cluster-")]
    for n in names:
        col = res[n].get("collector_us_per_req")
        res[n]["ratio_collector"] = ref_us / col if ref_us and col else None
        for key, a, b, fmt in (("carried_ack", "carried_p50_ms", "carried_p99_ms", "{:.2f}"),
                               ("carried_lag", "carried_lag_p50_ms", "carried_lag_p99_ms", "{:.0f}")):  # fmt: skip
            va, vb = res[n].get(a), res[n].get(b)
            res[n][key] = (
                f"{fmt.format(va)} / {fmt.format(vb)}"
                if va is not None and vb is not None
                else None
            )
    headers = [doc.get("scenario", "page-visit"), *names]
    rows = []
    for label, key, fmt in ROWS:
        cells = [label]
        for n in names:
            v = res[n].get(key)
            cells.append("–" if v is None else fmt.format(v))
        rows.append(cells)
    rows.append(
        ["stored = acknowledged", *("yes" if res[n]["durability_ok"] else "NO" for n in names)]
    )
    rows.append(["non-200 answers", *(str(res[n]["non200"]) for n in names)])
    out = [grid(headers, rows, markdown)]
    if ref_us:
        out.append(
            f"\nin-run reference, raw ASGI + msgspec (1 process, core 0): {ref_us:.1f} µs CPU per "
            f"request, {ref.get('sat_rps') or 0:,.0f} req/s at saturation, p99 at "
            f"{ref.get('fixed_rate') or 0:,.0f} req/s {ref.get('fixed_p99_ms') or 0:.2f} ms"
        )
    emb = res.get("shopevents-postgres", {})
    if emb.get("cpu_us_per_event"):
        out.append(
            f"in-run embedded mode, `serve` on PostgreSQL (1 process, core 0): "
            f"{emb['cpu_us_per_event']:.1f} µs CPU per event, server + PostgreSQL (of which "
            f"PostgreSQL {emb.get('db_cpu_us_per_event') or 0:.1f}), "
            f"{emb.get('sat_rps') or 0:,.0f} req/s at saturation, p99 at "
            f"{emb.get('fixed_rate') or 0:,.0f} req/s {emb.get('fixed_p99_ms') or 0:.2f} ms"
        )
    claims = doc.get("claims")
    if claims:
        out.append(
            "purchase claim alone (one statement and commit each, 2,000 claims): new "
            f"{claims['new']['wall_us']:.0f} µs wall, {claims['new']['postgres_cpu_us']:.0f} µs "
            f"PostgreSQL CPU; already claimed {claims['again']['wall_us']:.0f} µs wall, "
            f"{claims['again']['postgres_cpu_us']:.0f} µs PostgreSQL CPU"
        )
    by_variant: dict[str, list[str]] = {}
    for n in names:  # cluster-CxP[-variant]: the topologies of each variant, in run order
        by_variant.setdefault(n.split("-", 2)[2] if n.count("-") >= 2 else "", []).append(n)
    for group in by_variant.values():
        if len(group) < 2:
            continue
        a, b = res[group[0]], res[group[-1]]
        parts = []
        for label, key in (("collector", "collector_us_per_req"),
                           ("processor", "processor_us_per_event"),
                           ("PostgreSQL", "postgres_us_per_event"),
                           ("NATS", "nats_us_per_event")):  # fmt: skip
            if a.get(key) and b.get(key):
                parts.append(f"{label} {b[key] / a[key]:.2f}×")
        out.append(f"per-event CPU, {group[-1]} ÷ {group[0]}: " + ", ".join(parts))
    return "\n".join(out)


def run(a, results: Path) -> int:
    scn = HTTP_SCENARIOS[a.scenario if a.scenario != "all" else "page-visit"]
    if scn.segment:
        raise SystemExit("--mode cluster measures the ingest endpoint's scenarios")
    topologies = parse_topologies(a.topologies)
    opts = HttpOptions(runs=a.runs, duration=a.duration, warmup=a.warmup,
                       connections=a.connections, rate=a.rate)  # fmt: skip
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = results / f"logs-cluster-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    out_path = Path(a.out) if a.out else results / f"cluster-{stamp}.json"
    from bench.sysinfo import collect, describe

    info = collect()
    print(describe(info), flush=True)
    print(f"results: {out_path}  logs: {logdir}", flush=True)
    per: dict[str, list[dict]] = {}
    errors: dict[str, str] = {}
    ref = RawAsgiTarget()
    embedded = ShopeventsTarget("postgres")
    from bench.targets import parse_variant

    variants = [parse_variant(v) for v in a.variant] or [("", {})]
    for i in range(opts.runs):
        for topo, variant in [(t, v) for t in topologies for v in variants]:
            name = target_name(topo, variant[0])
            print(f"  [{scn.name}] run {i + 1}/{opts.runs} {name} ...", flush=True)
            prof = None
            if a.profile and i == 0:
                prof = logdir / f"profile-{name}"
                prof.mkdir(exist_ok=True)
            try:
                r = cluster_once(scn, topo, opts, logdir, prof, variant)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                (logdir / f"{name}-run{i + 1}.error.txt").write_text(traceback.format_exc())
                print(f"    failed: {errors[name][:300]}", flush=True)
                continue
            per.setdefault(name, []).append(r)
            print(
                f"    collector {r['collector_us_per_req'] or 0:.1f} µs/req, processor "
                f"{r['processor_us_per_event'] or 0:.1f} µs/ev, PostgreSQL "
                f"{r['postgres_us_per_event'] or 0:.1f} µs/ev, NATS {r['nats_us_per_event'] or 0:.1f}"
                f" µs/ev; p99 @{r['fixed_rate']:g}/s {r['fixed_p99_ms']:.2f} ms; lag p50/p99 "
                f"{r['lag_p50_ms'] or 0:.0f}/{r['lag_p99_ms'] or 0:.0f} ms; stored=acked: "
                f"{r['durability_ok']}",
                flush=True,
            )
        if not a.no_refs:
            for target in (ref, embedded):
                print(f"  [{scn.name}] run {i + 1}/{opts.runs} {target.name} ...", flush=True)
                r = run_once(scn, target, opts, logdir)
                r["loadavg"] = os.getloadavg()[0]
                per.setdefault(target.name, []).append(r)
    results_doc = {}
    for name, runs in per.items():
        if name in ("raw-asgi", embedded.name):
            keys = ("cpu_us_per_event", "db_cpu_us_per_event", "sat_rps", "fixed_rate",
                    "fixed_p99_ms", "loadavg")  # fmt: skip
            results_doc[name] = {
                k: statistics.median(v)
                if (v := [r[k] for r in runs if r.get(k) is not None])
                else None
                for k in keys
            }
        else:
            results_doc[name] = median_of(runs)
    doc = {"command": "python -m bench " + " ".join(a.argv), "machine": info, "scenario": scn.name,
           "events_per_request": scn.events_per_request, "results": results_doc, "raw": per,
           "errors": errors, "claims": claim_cost() if scn.purchases_per_request else None}  # fmt: skip
    out_path.write_text(json.dumps(doc, indent=1, default=str))
    print("\n" + render(doc), flush=True)
    if a.profile:
        from bench.profile import summarize

        for f in sorted(logdir.glob("profile-*/*.collapsed")):
            text = summarize(f, top=25)
            f.with_suffix(".txt").write_text(text)
            print(f"\n== profile {f.parent.name}/{f.stem} ==\n{text}", flush=True)
    if a.markdown:
        Path(a.markdown).write_text(render(doc, markdown=True) + "\n")
    return 1 if errors else 0
