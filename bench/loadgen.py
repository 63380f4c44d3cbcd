"""Load generators, pinned to the load core: wrk (closed loop, saturation) with
bench/lua/ingest.lua, and bench/fixedrate.py (open loop, fixed offered rate)."""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import LOADGEN_CORE, run_pinned

BENCH_DIR = Path(__file__).resolve().parent
LUA = BENCH_DIR / "lua" / "ingest.lua"
MAX_DURATION = 300.0


@dataclass
class Load:
    """What a phase sends."""

    template: Path
    path: str
    dup_every: int = 0
    dup_back: int = 7
    events_per_ok: int = 0  # >0: an answer without results[] (Segment's); a 2xx acks this many


@dataclass
class PhaseResult:
    generator: str
    duration_s: float
    requests: int
    ok2xx: int
    other_status: int
    errors: int
    events: dict[str, int]
    latency_us: dict[str, float | None]
    loadgen_cpu_s: float
    inflight_max: int
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def acked_events(self) -> int:
        e = self.events
        return e.get("accepted", 0) + e.get("duplicate", 0) + e.get("conflict", 0)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _parse(out: str) -> dict:
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON ") :])
    raise RuntimeError(f"no BENCHJSON line in load generator output:\n{out[-2000:]}")


def new_prefix() -> str:
    """10 hex digits unique to one generator invocation, so bodies never repeat across phases."""
    return secrets.token_hex(5)


def run_wrk(port: int, load: Load, duration: float, connections: int = 64) -> PhaseResult:
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION}]")
    wrk = shutil.which("wrk") or "wrk"
    env = dict(
        os.environ,
        BENCH_TEMPLATE=str(load.template),
        BENCH_PATH=load.path,
        BENCH_PREFIX=new_prefix(),
        BENCH_DUP_EVERY=str(load.dup_every),
        BENCH_DUP_BACK=str(load.dup_back),
        BENCH_EVENTS_PER_OK=str(load.events_per_ok),
    )
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/",
    ]
    cpu0 = _children_cpu()
    out, err, rc = run_pinned(argv, LOADGEN_CORE, timeout=duration + 60, env=env)
    cpu = _children_cpu() - cpu0
    if rc != 0:
        raise RuntimeError(f"wrk failed ({rc}): {err[-2000:]}")
    d = _parse(out)
    errs = d["errors"]
    return PhaseResult(
        generator="wrk",
        duration_s=d["duration_us"] / 1e6,
        requests=d["requests"],
        ok2xx=d["ok2xx"],
        other_status=d["other_status"],
        errors=errs["connect"] + errs["read"] + errs["write"] + errs["timeout"],
        events=d["events"],
        latency_us={k: float(v) for k, v in d["latency_us"].items()},
        loadgen_cpu_s=cpu,
        inflight_max=connections,
        extra={"sent": d["sent"], "unparsed": d["unparsed"], "status_errors": errs["status"]},
    )


def run_fixed(
    port: int, load: Load, rate: float, duration: float, connections: int = 64
) -> PhaseResult:
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION}]")
    argv = [
        sys.executable,
        "-m",
        "bench.fixedrate",
        "--port",
        str(port),
        "--path",
        load.path,
        "--template",
        str(load.template),
        "--prefix",
        new_prefix(),
        "--dup-every",
        str(load.dup_every),
        "--dup-back",
        str(load.dup_back),
        "--rate",
        str(rate),
        "--duration",
        str(duration),
        "--connections",
        str(connections),
    ]
    out, err, rc = run_pinned(
        argv,
        LOADGEN_CORE,
        timeout=duration + 60,
        cwd=BENCH_DIR.parent,
        env=dict(os.environ, BENCH_EVENTS_PER_OK=str(load.events_per_ok)),
    )
    if rc != 0:
        raise RuntimeError(f"fixed-rate generator failed ({rc}): {err[-2000:]}")
    d = _parse(out)
    return PhaseResult(
        generator="fixedrate",
        duration_s=d["duration_s"],
        requests=d["requests"],
        ok2xx=d["ok2xx"],
        other_status=d["other_status"],
        errors=d["errors"],
        events=d["events"],
        latency_us=d["latency_us"],
        loadgen_cpu_s=d["cpu_s"],
        inflight_max=d["lost_inflight"],
        extra={
            "rate": rate,
            "achieved_rps": d["achieved_rps"],
            "unsent": d["unsent"],
            "dropped": d["dropped"],
            "scheduled": d["scheduled"],
            "service_us": d["service_us"],
            "unparsed": d["unparsed"],
        },
    )
