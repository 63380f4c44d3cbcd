"""HTTP scenarios: the same requests against shopevents (per backend) and the two references,
runs alternated (A B C A B C ...), every run on a fresh server and a fresh database."""

from __future__ import annotations

import contextlib
import statistics
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import Load, PhaseResult, run_fixed, run_wrk
from bench.procs import read_metrics, system_busy_seconds
from bench.targets import Target

PAYLOADS = Path(__file__).resolve().parent / "payloads"
HALF_LOAD = 0.5
"""The second fixed-rate phase offers this share of the target's own saturation rate."""


@dataclass(frozen=True)
class HttpScenario:
    name: str
    description: str
    template: str
    events_per_request: int
    purchases_per_request: int
    fixed_rate: float  # requests/s offered in the fixed-rate phase
    dup_every: int = 0  # every Nth request repeats the body sent `dup_back` requests earlier
    dup_back: int = 7
    targets: dict | None = None  # {"sqlite": {...}, "postgres": {...}} goals for the report
    segment: bool = False  # a Segment batch to /v1/batch: each message one stored request


HTTP_SCENARIOS = {
    s.name: s
    for s in [
        HttpScenario(
            "page-visit",
            "1 page-visit + entityInfo + 3-line cart snapshot per request, a new visitor each",
            "page-visit.json",
            events_per_request=1,
            purchases_per_request=0,
            fixed_rate=5000,
            targets={
                "sqlite": {"sat_rps": 10000, "ratio_raw_rps": 1 / 3, "fixed_p99_ms": 10},
                "postgres": {"sat_rps": 5000, "fixed_p99_ms": 10},
            },
        ),
        HttpScenario(
            "purchase",
            "the seed's purchase + page-visit, distinct purchaseIds, every 20th request a reload",
            "purchase.json",
            events_per_request=2,
            purchases_per_request=1,
            fixed_rate=5000,
            dup_every=20,
            dup_back=7,
            targets={"sqlite": {"fixed_p99_ms": 10}, "postgres": {"fixed_p99_ms": 10}},
        ),
        HttpScenario(
            "batch20",
            "20 mixed events per request (server-side sender), 1 purchase among them",
            "batch20.json",
            events_per_request=20,
            purchases_per_request=1,
            fixed_rate=1000,
            targets={"sqlite": {"sat_eps": 40000}, "postgres": {"sat_eps": 25000}},
        ),
        HttpScenario(
            "segment-batch",
            "a Segment /v1/batch of 100 messages (page, Product Viewed, Products Searched, "
            "custom, 1 Order Completed), one stored event each",
            "segment-batch.json",
            events_per_request=100,
            purchases_per_request=1,
            fixed_rate=200,
            segment=True,
        ),
    ]
}

SEGMENT_PATH = "/v1/batch"


@dataclass
class HttpOptions:
    runs: int = 3
    duration: float = 10.0
    warmup: float = 2.0
    connections: int = 64
    rate: float | None = None  # overrides the scenario's fixed rate
    fixed_connections: int = 64


def _per_txn(a: dict, b: dict) -> float | None:
    """Requests per group-commit transaction between two /metrics readings."""
    key_w, key_b = "shopevents_group_commit_writes_total", "shopevents_group_commit_batches_total"
    if not all(k in m for m in (a, b) for k in (key_w, key_b)):
        return None
    batches = b[key_b] - a[key_b]
    return (b[key_w] - a[key_w]) / batches if batches else None


def _ms(us):
    return None if us is None else us / 1000.0


def check_durability(scn: HttpScenario, phases: list[PhaseResult], counts: dict | None) -> dict:
    """Compare what was acknowledged with what is stored.

    A request in flight when a closed-loop phase stops may be stored without its answer
    having been read, so stored may exceed acknowledged by at most the in-flight requests.
    Stored below acknowledged is a lost acknowledged event.
    """
    ok2xx = sum(p.ok2xx for p in phases)
    acked_events = sum(p.acked_events for p in phases)
    duplicates = sum(p.events.get("duplicate", 0) + p.events.get("conflict", 0) for p in phases)
    rejected = sum(p.events.get("rejected", 0) for p in phases)
    slack_requests = sum(p.inflight_max for p in phases)
    per_req = scn.events_per_request if scn.segment else 1
    expected = {
        "events": (acked_events, acked_events + slack_requests * scn.events_per_request),
        "purchases": (
            ok2xx * scn.purchases_per_request - duplicates,
            ok2xx * scn.purchases_per_request
            - duplicates
            + slack_requests * scn.purchases_per_request,
        ),
        # a Segment message is stored as a request of its own
        "requests": (ok2xx * per_req, (ok2xx + slack_requests) * per_req),
    }
    out = {"acked_requests": ok2xx, "acked_events": acked_events, "rejected": rejected}
    verdicts = []
    for kind, (low, high) in expected.items():
        stored = None if counts is None else counts.get(kind)
        if stored is None:
            out[kind] = {"stored": None, "expected": [low, high], "ok": None}
            continue
        ok = low <= stored <= high
        out[kind] = {"stored": stored, "expected": [low, high], "ok": ok}
        verdicts.append(ok)
    out["ok"] = all(verdicts) if verdicts else None
    return out


def run_once(scn: HttpScenario, target: Target, opts: HttpOptions, logdir: Path) -> dict:
    path = target.prepare(logdir)
    load = Load(PAYLOADS / scn.template, path, scn.dup_every, scn.dup_back)
    if scn.segment:  # the write key goes in the body; every 200 acknowledges every message
        template = logdir / f"{scn.name}-{target.name}.json"
        text = (PAYLOADS / scn.template).read_text()
        template.write_text(text.replace("{{W}}", target.segment_write_key()))
        load = Load(
            template,
            SEGMENT_PATH,
            scn.dup_every,
            scn.dup_back,
            events_per_ok=scn.events_per_request,
        )
    server = target.server(logdir)
    rate = opts.rate or scn.fixed_rate
    result: dict = {"target": target.name}
    try:
        server.start()
        warm = run_wrk(server.port, load, opts.warmup, opts.connections)
        m0 = read_metrics(server.port) if target.stores_events else {}
        c0, d0 = server.cpu_seconds()
        t0 = time.monotonic()
        b0 = system_busy_seconds()
        sat = run_wrk(server.port, load, opts.duration, opts.connections)
        b1 = system_busy_seconds()
        t1 = time.monotonic()
        c1, d1 = server.cpu_seconds()
        m1 = read_metrics(server.port) if target.stores_events else {}
        fixed = run_fixed(server.port, load, rate, opts.duration, opts.fixed_connections)
        c2, d2 = server.cpu_seconds()
        m2 = read_metrics(server.port) if target.stores_events else {}
        half_rate = max(50.0, round(sat.rps * HALF_LOAD, -1))
        half = run_fixed(server.port, load, half_rate, opts.duration, opts.fixed_connections)
        m3 = read_metrics(server.port) if target.stores_events else {}
        server.snapshot()
        peak_kb = server.peak_kb
    finally:
        server.stop()
    phases = [warm, sat, fixed, half]
    counts = None
    if target.stores_events and target.db is not None:
        counts = target.db.counts()
        with contextlib.suppress(Exception):
            result["db_bytes"] = target.db.size_bytes()
    target.cleanup()

    epr = scn.events_per_request
    if target.stores_events or target.name == "raw-asgi":
        sat_events = sat.acked_events
    else:  # nginx answers 204 without a body: count the events it was sent
        sat_events = sat.requests * epr
    wall = t1 - t0
    cpu_server = c1 - c0
    cpu_db = d1 - d0
    result.update(
        {
            "sat_rps": sat.rps,
            "sat_eps": sat_events / sat.duration_s if sat.duration_s else 0.0,
            "sat_p50_ms": _ms(sat.latency_us["p50"]),
            "sat_p99_ms": _ms(sat.latency_us["p99"]),
            "sat_p999_ms": _ms(sat.latency_us["p999"]),
            "fixed_rate": rate,
            "fixed_rps": fixed.extra["achieved_rps"],
            "fixed_p50_ms": _ms(fixed.latency_us["p50"]),
            "fixed_p99_ms": _ms(fixed.latency_us["p99"]),
            "fixed_p999_ms": _ms(fixed.latency_us["p999"]),
            "fixed_unsent": fixed.extra["unsent"] + fixed.extra["dropped"],
            "half_rate": half_rate,
            "half_rps": half.extra["achieved_rps"],
            "half_p50_ms": _ms(half.latency_us["p50"]),
            "half_p99_ms": _ms(half.latency_us["p99"]),
            "cpu_us_per_event": (cpu_server + cpu_db) / sat_events * 1e6 if sat_events else None,
            "db_cpu_us_per_event": cpu_db / sat_events * 1e6 if sat_events and cpu_db else None,
            "server_cpu_util": cpu_server / wall if wall else None,
            "db_cpu_util": cpu_db / wall if wall else None,
            "fixed_cpu_us_per_event": (
                ((c2 - c1) + (d2 - d1)) / fixed.acked_events * 1e6
                if target.stores_events and fixed.acked_events
                else None
            ),
            "loadgen_cpu_util": sat.loadgen_cpu_s / sat.duration_s if sat.duration_s else None,
            # CPU used by everything else on the machine during saturation, in cores
            "other_cpu_cores": (
                max(0.0, (b1 - b0) - cpu_server - cpu_db - sat.loadgen_cpu_s) / wall
                if wall
                else None
            ),
            "peak_rss_mb": peak_kb / 1024,
            "non200": sum(p.other_status for p in phases),
            "socket_errors": sum(p.errors for p in phases),
            "phases": {
                "warmup": warm.__dict__,
                "saturation": sat.__dict__,
                "fixed": fixed.__dict__,
                "half": half.__dict__,
            },
        }
    )
    if target.stores_events:
        result["metrics"] = {"before_sat": m0, "after_sat": m1, "after_fixed": m2, "end": m3}
        result["sat_req_per_txn"] = _per_txn(m0, m1)
        result["fixed_req_per_txn"] = _per_txn(m1, m2)
        result["half_req_per_txn"] = _per_txn(m2, m3)
        result["server_env"] = getattr(target, "server_env", {})
        result["durability"] = check_durability(scn, phases, counts)
        result["counts"] = counts
    return result


METRICS = [
    "sat_rps",
    "sat_eps",
    "sat_p50_ms",
    "sat_p99_ms",
    "sat_p999_ms",
    "fixed_rps",
    "fixed_p50_ms",
    "fixed_p99_ms",
    "fixed_p999_ms",
    "half_rate",
    "half_rps",
    "half_p50_ms",
    "half_p99_ms",
    "cpu_us_per_event",
    "db_cpu_us_per_event",
    "server_cpu_util",
    "db_cpu_util",
    "loadgen_cpu_util",
    "other_cpu_cores",
    "peak_rss_mb",
    "sat_req_per_txn",
    "fixed_req_per_txn",
    "half_req_per_txn",
]


def median_of(runs: list[dict]) -> dict:
    out: dict = {"runs": len(runs)}
    for m in METRICS:
        values = [r[m] for r in runs if r.get(m) is not None]
        out[m] = statistics.median(values) if values else None
        if values:
            out[m + "_range"] = [min(values), max(values)]
    out["non200"] = sum(r.get("non200", 0) for r in runs)
    out["socket_errors"] = sum(r.get("socket_errors", 0) for r in runs)
    out["fixed_unsent"] = sum(r.get("fixed_unsent", 0) for r in runs)
    checks = [r["durability"] for r in runs if "durability" in r]
    if checks:
        oks = [c["ok"] for c in checks]
        out["durability_ok"] = None if any(o is None for o in oks) else all(oks)
        out["acked_events"] = sum(c["acked_events"] for c in checks)
        out["rejected"] = sum(c["rejected"] for c in checks)
        out["durability_detail"] = checks
    return out


def run_scenario(
    scn: HttpScenario, targets: list[Target], opts: HttpOptions, logdir: Path, log=print
) -> dict:
    per_target: dict[str, list[dict]] = {t.name: [] for t in targets}
    errors: dict[str, str] = {}
    for run in range(opts.runs):
        for target in targets:
            if target.name in errors:
                continue
            log(f"  [{scn.name}] run {run + 1}/{opts.runs} {target.name} ...")
            try:
                r = run_once(scn, target, opts, logdir)
            except Exception as exc:
                errors[target.name] = f"{type(exc).__name__}: {exc}"
                (logdir / f"{scn.name}-{target.name}.error.txt").write_text(traceback.format_exc())
                log(f"    failed: {errors[target.name][:300]}")
                with contextlib.suppress(Exception):
                    target.cleanup()
                continue
            per_target[target.name].append(r)
            dur = r.get("durability", {}).get("ok")
            log(
                f"    {r['sat_rps']:,.0f} req/s  {r['sat_eps']:,.0f} ev/s  "
                f"p99 sat {r['sat_p99_ms']:.2f} ms  p99 @{r['fixed_rate']:g}/s "
                f"{r['fixed_p99_ms']:.2f} ms ({r['fixed_rps']:,.0f}/s)  "
                f"cpu {r['cpu_us_per_event'] or 0:.1f} us/ev  lg {r['loadgen_cpu_util'] or 0:.0%}"
                + (
                    f"  req/txn {r['sat_req_per_txn']:.1f}"
                    if r.get("sat_req_per_txn") is not None
                    else ""
                )
                + ("" if dur is None and "durability" not in r else f"  stored=acked: {dur}")
            )
    return {
        "kind": "http",
        "scenario": scn.name,
        "description": scn.description,
        "events_per_request": scn.events_per_request,
        "fixed_rate": opts.rate or scn.fixed_rate,
        "goals": scn.targets,
        "options": opts.__dict__,
        "results": {name: median_of(runs) for name, runs in per_target.items() if runs},
        "raw": per_target,
        "errors": errors,
    }
