"""py-spy profile of the shopevents server while wrk saturates it.

    python -m bench profile --scenario page-visit --backend sqlite --duration 15

Writes the collapsed stacks (one line per stack with its sample count, the input of flame
graph tools) and a summary under bench/results/, and prints the functions with the most
samples, inclusive and self.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from bench.http_scenarios import HTTP_SCENARIOS, PAYLOADS
from bench.loadgen import Load, run_wrk
from bench.targets import ShopeventsTarget

RESULTS = Path(__file__).resolve().parent / "results"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str:
    candidate = Path(sys.executable).parent / "py-spy"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is missing: pip install -r bench/requirements.txt")
    return found


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m.group("file")
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({file})"


def summarize(collapsed: Path, top: int = 30) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    by_file: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        # drop the thread/process header frame py-spy may add
        for f in set(frames):
            inclusive[f] += n
        self_[frames[-1]] += n
        leaf = frames[-1]
        m = re.search(r"\(([^()]*)\)$", leaf)
        by_file[m.group(1) if m else leaf] += n
    out = [f"{total} samples"]
    out.append("\ninclusive (share of samples with the function on the stack):")
    out += [f"  {c / total:6.1%}  {f}" for f, c in inclusive.most_common(top)]
    out.append("\nself (share of samples with the function at the top):")
    out += [f"  {c / total:6.1%}  {f}" for f, c in self_.most_common(top)]
    out.append("\nself by file:")
    out += [f"  {c / total:6.1%}  {f}" for f, c in by_file.most_common(top)]
    return "\n".join(out)


def profile(a) -> int:
    scn = HTTP_SCENARIOS[a.scenario]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = RESULTS / f"logs-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    base = RESULTS / f"profile-{a.scenario}-{a.backend}-{stamp}"
    target = ShopeventsTarget(a.backend)
    path = target.prepare(logdir)
    load = Load(PAYLOADS / scn.template, path, scn.dup_every, scn.dup_back)
    server = target.server(logdir)
    try:
        server.start()
        run_wrk(server.port, load, 2.0, a.connections)
        pid = str(server.proc.pid)
        argv = [
            py_spy(),
            "record",
            "--pid",
            pid,
            "--rate",
            str(a.rate),
            "--duration",
            str(int(a.duration)),
            "--subprocesses",
        ]
        results: dict = {}

        def record(fmt: str, out: Path) -> None:
            res = subprocess.run(
                [*argv, "--format", fmt, "--output", str(out)],
                capture_output=True,
                text=True,
                timeout=a.duration + 60,
            )
            results[fmt] = res

        # collapsed stacks: the input of the summary below and of any flame graph tool
        # (e.g. `py-spy record --format flamegraph` for an SVG, or speedscope)
        t1 = threading.Thread(target=record, args=("raw", base.with_suffix(".collapsed")))
        t1.start()
        sat = run_wrk(server.port, load, a.duration, a.connections)
        t1.join()
    finally:
        server.stop()
        target.cleanup()
    for fmt, res in results.items():
        if res.returncode != 0:
            print(f"py-spy ({fmt}) failed: {res.stderr[-1500:]}")
    print(
        f"{a.scenario} on {a.backend}: {sat.rps:,.0f} req/s while profiled "
        f"(py-spy pauses the process to sample: expect less than unprofiled)"
    )
    collapsed = base.with_suffix(".collapsed")
    if collapsed.exists():
        text = summarize(collapsed)
        base.with_suffix(".txt").write_text(text)
        print(text)
        print(f"\nstacks: {collapsed}")
    return 0
