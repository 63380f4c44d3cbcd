"""python -m bench: the shopevents benchmark harness.

    python -m bench run [--scenario NAME[,NAME]] [--backend sqlite|postgres|both]
                        [--runs N] [--duration S] [--server-env K=V]... [--variant L:K=V,...]...
    python -m bench run --mode cluster [--topologies 1x1,2x2] [--runs N] [--duration S]
                        [--rate R] [--profile]
    python -m bench report bench/results/FILE.json [--markdown]
    python -m bench profile --scenario page-visit --backend sqlite [--duration S]
    python -m bench claims [--backend sqlite|postgres|both] [--endpoints N[,N]] [--purchases N]
    python -m bench fuzz [--backend sqlite|postgres|both] [--count N] [--big-rest]
    python -m bench faults [--backend sqlite|postgres|both] [--scenario NAME[,NAME]] [--tree DIR]
    python -m bench faults --mode cluster [--scenario NAME[,NAME]]
    python -m bench import [--backend sqlite|postgres|both] [--rows N]
    python -m bench setup
    python -m bench slow-clients [--backend sqlite|postgres|both] [--base-tree DIR]

Every server is started here on 127.0.0.1, pinned to core 0; every load generator is pinned
to core 1; every load is bounded in time. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time
from pathlib import Path

from bench import table
from bench.dbs import pg_available
from bench.procs import ensure_debian_packages

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
HTTP_NAMES = ["page-visit", "purchase", "batch20", "segment-batch"]
BULK_NAMES = ["abandonment", "reports"]
ALL = HTTP_NAMES + BULK_NAMES


def setup() -> None:
    ensure_debian_packages({"wrk": "wrk", "nginx": "nginx-light"})


def _backends(choice: str) -> list[str]:
    if choice == "none":
        return []
    wanted = ["sqlite", "postgres"] if choice == "both" else [choice]
    if "postgres" in wanted:
        why = pg_available()
        if why is not None:
            print(f"PostgreSQL is not reachable ({why}); running SQLite only", flush=True)
            wanted.remove("postgres")
    return wanted


def _interrupt_on_sigterm() -> None:
    """SIGTERM stops the run like Ctrl-C: servers are stopped and databases dropped."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cmd_run(a) -> int:
    from bench.http_scenarios import HTTP_SCENARIOS, HttpOptions, run_scenario
    from bench.sysinfo import collect, describe
    from bench.targets import make_targets, parse_env, parse_variant

    if not 1 <= a.runs <= 15:
        raise SystemExit("--runs must be 1..15")
    if not 1 <= a.duration <= 120:
        raise SystemExit("--duration must be 1..120 seconds")
    if a.mode == "cluster":
        return _run_cluster(a)
    names = ALL if a.scenario == "all" else a.scenario.split(",")
    for n in names:
        if n not in ALL:
            raise SystemExit(f"unknown scenario {n!r}; known: {', '.join(ALL)}")
    server_env = parse_env(a.server_env)
    variants = [parse_variant(v) for v in a.variant]
    if a.db_core is not None:
        os.environ["BENCH_DB_CORE"] = str(a.db_core)
    _interrupt_on_sigterm()
    setup()
    backends = _backends(a.backend)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = RESULTS / f"logs-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    out_path = Path(a.out) if a.out else RESULTS / f"run-{stamp}.json"
    info = collect()
    command = "python -m bench " + " ".join(sys.argv[1:])
    doc = {
        "command": command,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": info,
        "server_env": server_env,
        "variants": dict(variants),
        "blocks": [],
    }
    print(describe(info), flush=True)
    print(f"results: {out_path}  logs: {logdir}", flush=True)
    t_start = time.monotonic()

    def save() -> None:
        doc["elapsed_s"] = round(time.monotonic() - t_start, 1)
        out_path.write_text(json.dumps(doc, indent=1, default=str))

    opts = HttpOptions(
        runs=a.runs,
        duration=a.duration,
        warmup=a.warmup,
        connections=a.connections,
        rate=a.rate,
    )
    for name in names:
        print(f"\n== {name} ==", flush=True)
        if name in HTTP_SCENARIOS:
            targets = make_targets(backends, not a.no_refs, server_env, variants)
            block = run_scenario(
                HTTP_SCENARIOS[name], targets, opts, logdir, log=lambda s: print(s, flush=True)
            )
        else:
            from bench import bulk

            block = bulk.run(name, backends, a, logdir, log=lambda s: print(s, flush=True))
        doc["blocks"].append(block)
        save()
        print("\n" + table.render(block), flush=True)
    save()
    print("\n\n" + render_doc(doc, markdown=False), flush=True)
    if a.markdown:
        Path(a.markdown).write_text(render_doc(doc, markdown=True))
        print(f"\nMarkdown written to {a.markdown}")
    return 0


def _run_cluster(a) -> int:
    from bench import cluster_run

    why = pg_available()
    if why is not None:
        raise SystemExit(f"cluster mode needs PostgreSQL, which is not reachable ({why})")
    _interrupt_on_sigterm()
    setup()
    RESULTS.mkdir(parents=True, exist_ok=True)
    a.argv = sys.argv[1:]
    return cluster_run.run(a, RESULTS)


def render_doc(doc: dict, markdown: bool) -> str:
    from bench.sysinfo import describe

    parts = []
    if markdown:
        parts += [
            "## Command",
            "",
            "```",
            doc["command"],
            "```",
            "",
            f"Started {doc['started']}, took {doc.get('elapsed_s', 0) / 60:.1f} min.",
            "",
            "## Machine and versions",
            "",
            describe(doc["machine"], markdown=True),
            "",
            "## Results",
            "",
        ]
    else:
        parts += [f"command: {doc['command']}", describe(doc["machine"]), ""]
    for block in doc["blocks"]:
        parts += [table.render(block, markdown=markdown), ""]
    return "\n".join(parts)


def cmd_report(a) -> int:
    doc = json.loads(Path(a.file).read_text())
    print(render_doc(doc, markdown=a.markdown))
    return 0


def cmd_profile(a) -> int:
    from bench.profile import profile

    setup()
    return profile(a)


def cmd_claims(a) -> int:
    from bench import claims

    return claims.run(
        _backends(a.backend),
        sizes=tuple(int(x) for x in a.sizes.split(",")),
        reps=a.reps,
        endpoints=[int(x) for x in a.endpoints.split(",")],
        purchases=a.purchases,
        skip_isolation=a.no_isolation,
        skip_claims=a.no_claims,
    )


def cmd_slow_clients(a) -> int:
    from bench.slow_clients import run_all

    _interrupt_on_sigterm()
    backends = _backends(a.backend)
    results = run_all(backends, a.base_tree) if a.base_tree else []
    results += run_all(backends)
    print(json.dumps(results, indent=1))
    return 0


def cmd_fuzz(a) -> int:
    from bench import fuzz
    from bench.targets import parse_env

    _interrupt_on_sigterm()
    backends = _backends(a.backend)
    logdir = RESULTS / f"logs-fuzz-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    logdir.mkdir(parents=True, exist_ok=True)

    def log(s: str) -> None:
        print(s, flush=True)

    if a.big_rest:
        return fuzz.run_big_rest(backends, parse_env(a.server_env), logdir, log=log)
    return fuzz.run(backends, a.count, a.concurrency, a.time_limit, a.seed, logdir, log=log)


def cmd_faults(a) -> int:
    from bench import faults
    from bench.targets import parse_env

    _interrupt_on_sigterm()
    names = a.scenario.split(",") if a.scenario else None
    if a.mode == "cluster":
        from bench import cluster_faults

        rows, missed = cluster_faults.run(names)
        print()
        print(cluster_faults.render(rows))
        for line in missed:
            print("missed:", line)
        return 1 if missed else 0
    tree = Path(a.tree).resolve() if a.tree else None
    rows, missed = faults.run(_backends(a.backend), names, tree, parse_env(a.server_env))
    print()
    print(faults.render(rows))
    for line in missed:
        print("missed:", line)
    return 1 if missed else 0


def cmd_import(a) -> int:
    from bench import imports

    _interrupt_on_sigterm()
    imports.run(_backends(a.backend), a.rows, log=lambda s: print(s, flush=True))
    return 0


def cmd_retention(a) -> int:
    from bench import retention

    retention.run(_backends(a.backend), a.rows, log=lambda s: print(s, flush=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run scenarios and print the table of medians")
    r.add_argument(
        "--scenario",
        default="all",
        help=f"one or more of {', '.join(ALL)} (comma-separated), or all",
    )
    r.add_argument(
        "--backend",
        default="both",
        choices=["sqlite", "postgres", "both", "none"],
        help="shopevents storage to measure (none: the references alone)",
    )
    r.add_argument("--runs", type=int, default=3, help="runs per target; medians are printed")
    r.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measured phase (≤ 120)"
    )
    r.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up load per run")
    r.add_argument("--connections", type=int, default=64, help="wrk connections at saturation")
    r.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offered req/s for the fixed-rate phase (default per scenario)",
    )
    r.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="SHOPEVENTS_NAME=VALUE",
        help="setting passed to every `shopevents serve` in the environment (repeatable)",
    )
    r.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:SHOPEVENTS_NAME=VALUE[,...]",
        help="HTTP scenarios: one shopevents target per variant and backend, alternated run by "
        "run (repeatable), e.g. --variant wait0:SHOPEVENTS_INGEST_GROUP_COMMIT_MAX_WAIT_MS=0; "
        "PYTHONPATH=DIR runs another source tree (e.g. base:PYTHONPATH=/tmp/base/src); with "
        "--mode cluster, one deployment per variant and topology (collectors and processors "
        "get the variant's environment)",
    )
    r.add_argument("--no-refs", action="store_true", help="skip the nginx and raw-ASGI references")
    r.add_argument(
        "--mode",
        default="embedded",
        choices=["embedded", "cluster"],
        help="cluster: page-visit through `shopevents collect` with processors, 3 JetStream "
        "nodes and PostgreSQL, per-role CPU per event and the end-to-end lag (bench/cluster_run.py)",
    )
    r.add_argument(
        "--topologies",
        default="1x1,2x2",
        help="--mode cluster: COLLECTORSxPROCESSORS to measure, alternated run by run",
    )
    r.add_argument(
        "--profile",
        action="store_true",
        help="--mode cluster: py-spy profiles of collector 1 and processor 1 during the first "
        "saturation phase of each topology",
    )
    r.add_argument(
        "--db-core",
        type=int,
        default=None,
        help="pin the PostgreSQL backends to this core instead of the server's (0)",
    )
    r.add_argument("--carts", type=int, default=1_000_000, help="abandonment: open carts")
    r.add_argument("--purchases", type=int, default=1_000_000, help="reports: purchases")
    r.add_argument("--events", type=int, default=10_000_000, help="reports: events")
    r.add_argument(
        "--out", help="where to save the JSON results (default bench/results/run-*.json)"
    )
    r.add_argument("--markdown", help="also write the Markdown report to this file")
    r.set_defaults(fn=cmd_run)
    p = sub.add_parser("report", help="re-render a saved JSON result")
    p.add_argument("file")
    p.add_argument("--markdown", action="store_true")
    p.set_defaults(fn=cmd_report)
    f = sub.add_parser("profile", help="py-spy profile of the shopevents server under saturation")
    f.add_argument("--scenario", default="page-visit", choices=HTTP_NAMES)
    f.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    f.add_argument("--duration", type=float, default=15.0)
    f.add_argument("--connections", type=int, default=64)
    f.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    f.set_defaults(fn=cmd_profile)
    c = sub.add_parser(
        "claims", help="webhook claim cost at 1 / 10k / 1M pending deliveries, and isolation"
    )
    c.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    c.add_argument("--sizes", default="1,10000,1000000", help="pending deliveries to time at")
    c.add_argument("--reps", type=int, default=25, help="claims timed per size (median)")
    c.add_argument(
        "--endpoints", default="25", help="isolation: store A's endpoints (comma-separated runs)"
    )
    c.add_argument("--purchases", type=int, default=400, help="isolation: store A's purchases")
    c.add_argument("--no-isolation", action="store_true", help="time the claims only")
    c.add_argument("--no-claims", action="store_true", help="run the isolation scenario only")
    c.set_defaults(fn=cmd_claims)
    sc = sub.add_parser(
        "slow-clients",
        help="slowloris, idle and flooding clients against a real server (bench/slow_clients.py)",
    )
    sc.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres", "both"])
    sc.add_argument(
        "--base-tree",
        default=None,
        metavar="DIR",
        help="also measure another source tree of shopevents (its src directory), e.g. an "
        "earlier commit's from `git archive`",
    )
    sc.set_defaults(fn=cmd_slow_clients)
    fz = sub.add_parser(
        "fuzz", help="hostile bodies against a real server per backend; non-zero exit on a 5xx"
    )
    fz.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    fz.add_argument("--count", type=int, default=100_000, help="bodies sent per backend")
    fz.add_argument("--concurrency", type=int, default=8, help="connections sending at once")
    fz.add_argument("--time-limit", type=float, default=1200.0, help="seconds per backend at most")
    fz.add_argument("--seed", type=int, default=1, help="the bodies are the same for a seed")
    fz.add_argument(
        "--big-rest",
        action="store_true",
        help="instead: 16 concurrent 5.2 MB purchases through the REST API, peak RSS and a "
        "page visit's latency alongside",
    )
    fz.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="SHOPEVENTS_NAME=VALUE",
        help="--big-rest: setting for the server (repeatable); PYTHONPATH=DIR another tree",
    )
    fz.set_defaults(fn=cmd_fuzz)
    fa = sub.add_parser(
        "faults", help="crash, outage, lock and hostile-client faults under traffic, both backends"
    )
    fa.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    fa.add_argument(
        "--mode",
        default="embedded",
        choices=["embedded", "cluster"],
        help="cluster: kill -9 of a collector, a processor, the stream leader; PostgreSQL "
        "stopped; the stream full (bench/cluster_faults.py)",
    )
    fa.add_argument("--scenario", default="", help="only these (comma-separated); default all")
    fa.add_argument(
        "--tree", default=None, metavar="DIR", help="serve another checkout's src (a before run)"
    )
    fa.add_argument(
        "--server-env", action="append", default=[], metavar="SHOPEVENTS_NAME=VALUE",
        help="a setting for the servers (repeatable)",
    )  # fmt: skip
    fa.set_defaults(fn=cmd_faults)
    im = sub.add_parser("import", help="bulk import and export of 100,000 rows (bench/imports.py)")
    im.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    im.add_argument("--rows", type=int, default=100_000, help="rows per file")
    im.set_defaults(fn=cmd_import)
    rt = sub.add_parser("retention", help="the worker's pruning of raw bodies past retention")
    rt.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    rt.add_argument("--rows", type=int, default=200_000, help="requests past retention")
    rt.set_defaults(fn=cmd_retention)
    s = sub.add_parser("setup", help="install wrk and nginx-light from Debian if missing")
    s.set_defaults(fn=lambda a: setup() or 0)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
