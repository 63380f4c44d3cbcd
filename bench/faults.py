"""python -m bench faults: each fault a production team tries before trusting a collector, run
against a real `shopevents serve` process with steady traffic, on both backends.

Traffic: a few client threads post page-visits (each with its own `requestId`) at a modest
rate, and retry an unanswered or `5xx` request with the same `requestId` after a short pause,
as the client script does; a probe thread reads `/healthz`. After the fault, the database is
read back and every request is judged:

- requests: distinct requests sent; acknowledged: answered `200` at some attempt;
- stored: acknowledged requests found in the database; lost: acknowledged but not stored;
- refused but stored: answered `503 storage_unavailable` (which promises nothing was stored)
  at every attempt, yet stored; duplicated: requests stored more than once;
- 5xx: answers with a `5xx` status (a `503` is the expected answer while the database is
  down); worst: the slowest answer to an ingest request or `/healthz` while the fault lasted;
- first 503: seconds from the fault's start to the first `503` (database faults).

PostgreSQL faults run on a private PostgreSQL cluster started here (initdb in a temporary
folder, as the `postgres` user), so freezing or stopping it touches nothing else.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import Server, free_port

PG_BIN = Path("/usr/lib/postgresql")
CLIENTS = 4
PAUSE = 0.01  # between two requests of one client thread


# -- databases ------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of our own on a free loopback port."""

    def __init__(self) -> None:
        versions = sorted(PG_BIN.iterdir()) if PG_BIN.exists() else []
        if not versions:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = versions[-1] / "bin"
        self.dir = Path(tempfile.mkdtemp(prefix="shopevents-faults-pg-"))
        shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            [str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U",
             "postgres", "--no-sync"]
        )  # fmt: skip

    def _as_postgres(self, argv: list[str]) -> None:
        prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run(prefix + argv, check=True, capture_output=True, timeout=120)

    def _ctl(self, *args: str) -> None:
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), *args])

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._ctl("-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def stop_hard(self) -> None:
        self._ctl("-m", "immediate", "-w", "stop")

    def pids(self) -> list[int]:
        pid_file = self.dir / "data" / "postmaster.pid"
        try:
            main = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return []
        out = [main]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == main:
                        out.append(int(entry))
        return out

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.signal_all(signal.SIGCONT)
            self.stop_hard()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Target:
    """A database (SQLite file or private PostgreSQL) with a store, and its server."""

    backend: str
    url: str
    store_id: str
    workdir: Path
    tree: Path | None
    pg: PrivatePostgres | None = None
    server: Server | None = None
    port: int = 0
    settings_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ, SHOPEVENTS_DATABASE_URL=self.url, **self.settings_env)
        if self.tree is not None:
            env["PYTHONPATH"] = str(self.tree / "src")
        return env

    def start_server(self) -> None:
        self.port = self.port or free_port()
        argv = [sys.executable, "-m", "shopevents", "serve", "--no-worker", "--port",
                str(self.port)]  # fmt: skip
        self.server = Server("shopevents", argv, self.port, env=self.env(),
                             log=self.workdir / "server.log")  # fmt: skip
        self.server.start()

    def kill_server(self) -> None:
        assert self.server is not None and self.server.proc is not None
        os.killpg(self.server.proc.pid, signal.SIGKILL)
        self.server.proc.wait(10)

    def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.stop()
        if self.pg is not None:
            self.pg.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stored_keys(self) -> dict[str, int]:
        sql = "SELECT request_key, COUNT(*) FROM requests WHERE request_key IS NOT NULL GROUP BY 1"
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                return {k: int(n) for k, n in conn.execute(sql)}
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return {k: int(n) for k, n in conn.execute(sql)}


def make_target(backend: str, tree: Path | None, settings_env: dict[str, str]) -> Target:
    workdir = Path(tempfile.mkdtemp(prefix="shopevents-faults-"))
    pg = None
    if backend == "postgres":
        pg = PrivatePostgres()
        pg.start()
        url = pg.url
    else:
        url = f"sqlite:///{workdir / 'faults.db'}"
    env = dict(os.environ, SHOPEVENTS_DATABASE_URL=url)
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    cli = [sys.executable, "-m", "shopevents"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    made = subprocess.run([*cli, "stores", "create", "Faults", "--json"], env=env, check=True,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    store_id = json.loads(made.stdout)["storeId"]
    return Target(backend, url, store_id, workdir, tree, pg, settings_env=settings_env)


# -- traffic --------------------------------------------------------------------------------


@dataclass
class Outcome:
    key: str
    statuses: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


class Traffic:
    """Client threads posting page-visits with retries, and a `/healthz` probe; every answer's
    time is kept so the worst during the fault can be read."""

    def __init__(self, target: Target, clients: int = CLIENTS) -> None:
        self.target = target
        self.clients = clients
        self.stop_event = threading.Event()
        self.outcomes: list[Outcome] = []
        self.timings: list[tuple[float, float, str, int]] = []  # (start, took, kind, status)
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.target.port}{path}"

    def _request(self, kind: str, req: urllib.request.Request) -> tuple[int, bytes]:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (OSError, http.client.HTTPException):
            status, body = 0, b""
        with self.lock:
            self.timings.append((started, time.monotonic() - started, kind, status))
        return status, body

    def _client(self) -> None:
        path = f"/integration-type/system/scrippet-notification/{self.target.store_id}"
        while not self.stop_event.is_set():
            key = uuid.uuid4().hex
            out = Outcome(key)
            with self.lock:
                self.outcomes.append(out)
            body = json.dumps(
                {"requestId": key, "events": [{"type": "page-visit"}],
                 "entityInfo": {"primaryKey": f"{key[:12]}@example.com"}}
            ).encode()  # fmt: skip
            while True:
                req = urllib.request.Request(
                    self.url(path), data=body, headers={"Content-Type": "text/plain"}
                )
                status, answer = self._request("ingest", req)
                code = ""
                if status >= 400:
                    with contextlib.suppress(ValueError, AttributeError):
                        code = json.loads(answer).get("code", "")
                out.statuses.append(status)
                out.codes.append(code)
                if status == 200 or (400 <= status < 500 and status != 429):
                    break
                if self.stop_event.wait(0.2):
                    break
            time.sleep(PAUSE)

    def _probe(self) -> None:
        while not self.stop_event.is_set():
            self._request("healthz", urllib.request.Request(self.url("/healthz")))
            self.stop_event.wait(0.1)

    def start(self) -> Traffic:
        for _ in range(self.clients):
            self.threads.append(threading.Thread(target=self._client, daemon=True))
        self.threads.append(threading.Thread(target=self._probe, daemon=True))
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(40)

    def worst(self, start: float, end: float, kind: str = "ingest") -> float:
        with self.lock:
            took = [
                t
                for s, t, k, status in self.timings
                if start <= s <= end and status != 0 and k == kind
            ]
        return max(took, default=0.0)

    def first_503(self, start: float) -> float | None:
        with self.lock:
            after = [
                s + t - start for s, t, _, status in self.timings if status == 503 and s >= start
            ]
        return min(after) if after else None


def judge(target: Target, traffic: Traffic) -> dict[str, Any]:
    stored = target.stored_keys()
    acked = [o for o in traffic.outcomes if 200 in o.statuses]
    refused = [
        o for o in traffic.outcomes
        if o.statuses and all(c == "storage_unavailable" for c in o.codes)
    ]  # fmt: skip
    return {
        "requests": len(traffic.outcomes),
        "acknowledged": len(acked),
        "stored": sum(1 for o in acked if o.key in stored),
        "lost": sum(1 for o in acked if o.key not in stored),
        "refused_but_stored": sum(1 for o in refused if o.key in stored),
        "duplicated": sum(1 for n in stored.values() if n > 1),
        "5xx": sum(1 for o in traffic.outcomes for s in o.statuses if s >= 500),
    }


# -- scenarios -------------------------------------------------------------------------------


def _steady(target: Target, before: float, fault: Callable[[], None], during: float,
            heal: Callable[[], None] | None, after: float) -> dict[str, Any]:  # fmt: skip
    target.start_server()
    traffic = Traffic(target).start()
    time.sleep(before)
    start = time.monotonic()
    fault()
    time.sleep(during)
    if heal is not None:
        heal()
    end = time.monotonic()
    time.sleep(after)
    traffic.stop()
    result = judge(target, traffic)
    result["worst_s"] = round(traffic.worst(start, end), 3)
    result["healthz_worst_s"] = round(traffic.worst(start, end, "healthz"), 3)
    first = traffic.first_503(start)
    result["first_503_s"] = None if first is None else round(first, 2)
    return result


def kill9(target: Target) -> dict[str, Any]:
    """The server killed with SIGKILL under traffic, then started again."""

    def fault() -> None:
        target.kill_server()
        target.start_server()

    return _steady(target, 2.0, fault, 1.0, None, 2.0)


def pg_stop(target: Target) -> dict[str, Any]:
    """PostgreSQL stopped hard (`pg_ctl stop -m immediate`) for 8 s, then started."""
    assert target.pg is not None
    pg = target.pg
    return _steady(target, 2.0, pg.stop_hard, 8.0, pg.start, 4.0)


def pg_freeze(target: Target) -> dict[str, Any]:
    """Every PostgreSQL process stopped with SIGSTOP for 10 s (a frozen or partitioned
    database: connections stay open and nothing answers), then SIGCONT."""
    assert target.pg is not None
    pg = target.pg
    return _steady(target, 2.0, lambda: pg.signal_all(signal.SIGSTOP), 10.0,
                   lambda: pg.signal_all(signal.SIGCONT), 4.0)  # fmt: skip


def sqlite_lock(target: Target) -> dict[str, Any]:
    """Another process holds SQLite's write lock for 6 s."""
    holder: dict[str, subprocess.Popen[bytes]] = {}
    path = target.url.removeprefix("sqlite:///")
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(6)\n"
        "c.execute('ROLLBACK')\n"
    )

    def fault() -> None:
        holder["p"] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert holder["p"].stdout is not None
        holder["p"].stdout.readline()

    def heal() -> None:
        holder["p"].wait(10)

    return _steady(target, 2.0, fault, 6.0, heal, 3.0)


SCENARIOS: dict[str, tuple[tuple[str, ...], Callable[[Target], dict[str, Any]]]] = {
    "kill-9": (("sqlite", "postgres"), kill9),
    "pg-stop": (("postgres",), pg_stop),
    "pg-freeze": (("postgres",), pg_freeze),
    "sqlite-lock": (("sqlite",), sqlite_lock),
}


def extra_scenarios() -> dict[str, tuple[tuple[str, ...], Callable[[str], dict[str, Any]]]]:
    """Scenarios that start their own servers: slow clients, rate limits, webhook fan-out,
    hostile and big bodies."""
    both = ("sqlite", "postgres")
    return {
        "slowloris": (both, slowloris),
        "rate-limit": (both, rate_limit),
        "webhook-fan-out": (both, webhook_fan_out),
        "hostile-bodies": (both, hostile_bodies),
        "big-rest-bodies": (both, big_rest_bodies),
    }


def _quiet(line: str) -> None:
    pass


def _slow_clients_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests": r["requests"],
        "acknowledged": r["acknowledged"],
        "5xx": r["failed_5xx"],
        "input_5xx": r["failed_5xx"],
        "worst_s": r["worst_latency_s"],
    }


def slowloris(backend: str) -> dict[str, Any]:
    """500 slowloris and 1,100 silent connections, then 116 normal requests, under a
    1,024 open-file limit (`bench/slow_clients.py`)."""
    from bench import slow_clients

    return _slow_clients_row(slow_clients.run_slowloris(backend, log=_quiet))


def rate_limit(backend: str) -> dict[str, Any]:
    """A client floods one store; a polite second client's requests (the rows here) must be
    served (`bench/slow_clients.py`)."""
    from bench import slow_clients

    return _slow_clients_row(slow_clients.run_rate_limit(backend, log=_quiet))


def hostile_bodies(backend: str) -> dict[str, Any]:
    """5,000 hostile bodies over ingest and every REST write (`bench/fuzz.py`; the full run
    of 100,000 is `python -m bench fuzz`)."""
    from bench import fuzz

    logdir = Path(tempfile.mkdtemp(prefix="shopevents-faults-fuzz-"))
    try:
        r = fuzz.fuzz_backend(backend, 5_000, 8, 300.0, 1, logdir, _quiet)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    return {"requests": r["requests"], "5xx": r["5xx"], "input_5xx": r["5xx"]}


def big_rest_bodies(backend: str) -> dict[str, Any]:
    """Sixteen concurrent 5.2 MB purchases through the REST API while a page-visit is timed
    (`bench/fuzz.py`)."""
    from bench import fuzz

    logdir = Path(tempfile.mkdtemp(prefix="shopevents-faults-big-"))
    lines: list[str] = []
    try:
        fuzz.run_big_rest([backend], {}, logdir, log=lines.append)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    r = json.loads(lines[-1])
    answers = {int(k): v for k, v in r["answers"].items()}
    return {
        "requests": r["page_visits"] + sum(answers.values()),
        "acknowledged": r["page_visits"],  # the page visits; the big purchases get 413
        "5xx": sum(v for k, v in answers.items() if k >= 500 or k == 0),
        "input_5xx": sum(v for k, v in answers.items() if k >= 500),
        "worst_s": round(r["page_visit_max_ms"] / 1000, 3),
        "peak_rss_mb": r["peak_rss_mb"],
    }


def webhook_fan_out(backend: str) -> dict[str, Any]:
    """A store at the endpoint limit (25) gets 400 purchases (10,000 deliveries to fan out
    and send) while another store's page-visits are timed (`bench/claims.py`)."""
    from bench import claims

    r = claims.isolation(backend, 25, 400, max_seconds=60.0)
    return {
        "requests": r["visits"],
        "acknowledged": r["visits"],  # a visit answered otherwise stops the run
        "5xx": 0,
        "worst_s": round(r["visit_max_ms"] / 1000, 3) if r["visit_max_ms"] else None,
    }


DATABASE_FAULTS = ("pg-stop", "pg-freeze", "sqlite-lock")
COLUMNS = ["requests", "acknowledged", "stored", "lost", "refused_but_stored", "duplicated",
           "5xx", "worst_s", "healthz_worst_s", "first_503_s", "peak_rss_mb"]  # fmt: skip


def render(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    head = "| scenario | backend | " + " | ".join(c.replace("_", " ") for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for name, backend, result in rows:
        cells = []
        for c in COLUMNS:
            v = result.get(c)
            cells.append("–" if v is None else str(v))
        lines.append(f"| {name} | {backend} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures(rows: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """What misses a target: a lost or duplicated request, a 503 that stored, a `5xx` from
    input, a normal request slower than 2 s during a fault where the service stays up (5 s,
    the `503` included, while the database is down), a first `503` later than 5 s into a
    database fault."""
    out = []
    for name, backend, r in rows:
        where = f"{name} on {backend}"
        for key in ("lost", "refused_but_stored", "duplicated"):
            if r.get(key):
                out.append(f"{where}: {key} = {r[key]}")
        if r.get("input_5xx"):
            out.append(f"{where}: {r['input_5xx']} answers 5xx to client input")
        if name in DATABASE_FAULTS:
            first = r.get("first_503_s")
            if first is None or first > 5:
                out.append(f"{where}: first 503 after {first} s")
        for key in ("worst_s", "healthz_worst_s"):
            # While the database is down, a request is answered (a 503) within 5 s; in any
            # other fault it is served within 2 s.
            limit = 5.0 if key == "worst_s" and name in DATABASE_FAULTS else 2.0
            if r.get(key) is not None and r[key] > limit and name != "kill-9":
                out.append(f"{where}: {key.removesuffix('_s').replace('_', ' ')} {r[key]} s")
    return out


@contextlib.contextmanager
def _target(backend: str, tree: Path | None, env: dict[str, str]) -> Iterator[Target]:
    target = make_target(backend, tree, env)
    try:
        yield target
    finally:
        target.stop()


def run(backends: list[str], names: list[str] | None, tree: Path | None,
        settings_env: dict[str, str]) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:  # fmt: skip
    rows: list[tuple[str, str, dict[str, Any]]] = []
    extra = extra_scenarios()
    for name, (on, fn) in SCENARIOS.items():
        if names and name not in names:
            continue
        for backend in backends:
            if backend not in on:
                continue
            print(f"{name} on {backend} …", flush=True)
            with _target(backend, tree, settings_env) as target:
                rows.append((name, backend, fn(target)))
            print(render(rows[-1:]), flush=True)
    for name, (on, run_extra) in extra.items():
        if names and name not in names:
            continue
        for backend in backends:
            if backend in on:
                print(f"{name} on {backend} …", flush=True)
                rows.append((name, backend, run_extra(backend)))
                print(render(rows[-1:]), flush=True)
    return rows, failures(rows)
