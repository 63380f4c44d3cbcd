"""Slow, idle and flooding clients against a real `shopevents serve` (loopback only, bounded
in count and time); the figures of docs/reliability.md, "Slow and idle connections" and
"Rate limits".

    python -m bench slow-clients [--backend sqlite|postgres|both] [--base-tree DIR]

`run_slowloris(backend)` and `run_rate_limit(backend)` each start their own server the way
`python -m bench run` does (bench.targets), return a dict of figures and stop the server.
`pythonpath` runs another source tree of shopevents (e.g. an earlier commit's `src`, made
with `git archive`) to measure the same scenario before a change.
"""

from __future__ import annotations

import contextlib
import http.client
import resource
import selectors
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import Server
from bench.targets import ShopeventsTarget

BENCH_DIR = Path(__file__).resolve().parent
PAYLOAD = (BENCH_DIR.parent / "docs" / "examples" / "seed-purchase.json").read_bytes()

SERVER_FILES = 1024  # the server's open-file limit (soft and hard), as `ulimit -n 1024`
SLOWLORIS = 500
IDLE = 1100
NORMAL = 116
ATTACK_SECONDS = 20.0
FLOOD_SECONDS = 5.0
FLOOD_THREADS = 4
POLITE = 10
FLOODER = "203.0.113.7"  # documentation addresses, sent as X-Forwarded-For from loopback
POLITE_CLIENT = "198.51.100.2"


def _raise_own_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))


def _start(backend: str, env: dict[str, str], logdir: Path, files: int | None):
    target = ShopeventsTarget(backend, env=env)
    path = target.prepare(logdir)
    server = target.server(logdir)
    if files is not None:
        server.argv = ["prlimit", f"--nofile={files}:{files}", "--", *server.argv]
    try:
        server.start()
    except Exception:
        target.cleanup()
        raise
    return target, server, path


def _stop(target: ShopeventsTarget, server: Server) -> None:
    try:
        server.stop()
    finally:
        target.cleanup()


def _post(port: int, path: str, headers: dict[str, str], timeout: float) -> tuple[int, float]:
    """One ingest POST on a new connection: (status or 0 on failure, seconds)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=PAYLOAD, headers={"Content-Type": "text/plain", **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - start
    except OSError:
        return 0, time.monotonic() - start
    finally:
        conn.close()


class Attacker:
    """Keeps `slow` connections sending a request head one byte a second and `idle`
    connections open without a byte; with `reopen`, every connection the server closes is
    opened again (a persistent attacker), else each is opened once."""

    def __init__(self, port: int, path: str, slow: int, idle: int, reopen: bool) -> None:
        self.port = port
        self.reopen = reopen
        self.head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n".encode()
        self.want = {"slow": slow, "idle": idle}
        self.sel = selectors.DefaultSelector()
        self.socks: dict[socket.socket, list[Any]] = {}  # sock -> [kind, bytes sent, opened at]
        self.opened = {"slow": 0, "idle": 0}
        self.closed_by_server = {"slow": 0, "idle": 0}
        self.connect_failures = 0
        self.lifetimes: dict[str, list[float]] = {"slow": [], "idle": []}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, kind: str) -> None:
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            self.connect_failures += 1
            return
        self.socks[s] = [kind, 0, time.monotonic()]
        self.sel.register(s, selectors.EVENT_READ)
        self.opened[kind] += 1

    def _drop(self, s: socket.socket, by_server: bool) -> None:
        kind, _, opened = self.socks.pop(s)
        if by_server:
            self.closed_by_server[kind] += 1
            self.lifetimes[kind].append(time.monotonic() - opened)
        with contextlib.suppress(Exception):
            self.sel.unregister(s)
        s.close()

    def count(self, kind: str) -> int:
        return sum(1 for v in self.socks.values() if v[0] == kind)

    def _run(self) -> None:
        last_trickle = 0.0
        while not self.stop.is_set():
            for kind, want in self.want.items():
                missing = want - (self.count(kind) if self.reopen else self.opened[kind])
                for _ in range(min(missing, 200)):  # at most 200 new connections a turn each
                    self._open(kind)
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(s, by_server=True)
            now = time.monotonic()
            if now - last_trickle >= 1.0:  # one more byte of the head every second
                last_trickle = now
                for s, v in list(self.socks.items()):
                    if v[0] != "slow":
                        continue
                    byte = self.head[v[1] : v[1] + 1] or b"X"
                    try:
                        s.send(byte)
                        v[1] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        self._drop(s, by_server=True)
        for s in list(self.socks):
            self._drop(s, by_server=False)

    def __enter__(self) -> Attacker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def run_slowloris(
    backend: str,
    *,
    pythonpath: str | None = None,
    slow: int = SLOWLORIS,
    idle: int = IDLE,
    normal: int = NORMAL,
    seconds: float = ATTACK_SECONDS,
    reopen: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`slow` slowloris and `idle` idle connections (with `reopen`, re-opened whenever the
    server closes one) against a server limited to 1,024 open files; meanwhile `normal` ingest POSTs, each on a new
    connection, spread over `seconds`. How many succeed, their worst latency, and how the
    server treated the attackers."""
    _raise_own_fd_limit(slow + idle + 512)
    env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    logdir = Path(tempfile.mkdtemp(prefix="bench-slow-"))
    target, server, path = _start(backend, env, logdir, SERVER_FILES)
    statuses: list[int] = []
    latencies: list[float] = []
    try:
        with Attacker(server.port, path, slow, idle, reopen) as attacker:
            time.sleep(2.0)  # the attack is in place
            interval = seconds / normal
            t0 = time.monotonic()
            for i in range(normal):
                delay = t0 + i * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                status, took = _post(server.port, path, {}, timeout=10)
                statuses.append(status)
                latencies.append(took)
        alive = server.proc is not None and server.proc.poll() is None
    finally:
        _stop(target, server)

    def median(xs: list[float]) -> float | None:
        return round(sorted(xs)[len(xs) // 2], 2) if xs else None

    out = {
        "scenario": "slowloris",
        "backend": backend,
        "tree": pythonpath or "this",
        "server_open_files": SERVER_FILES,
        "slowloris": slow,
        "idle": idle,
        "reopen": reopen,
        "requests": normal,
        "acknowledged": statuses.count(200),
        "failed_5xx": sum(1 for s in statuses if s >= 500),
        "failed_connection": statuses.count(0),
        "other_status": sum(1 for s in statuses if s not in (0, 200) and s < 500),
        "worst_latency_s": round(max(latencies), 3) if latencies else None,
        "median_latency_s": round(sorted(latencies)[len(latencies) // 2], 3) if latencies else None,
        "slow_closed_by_server": attacker.closed_by_server["slow"],
        "idle_closed_by_server": attacker.closed_by_server["idle"],
        "slow_median_lifetime_s": median(attacker.lifetimes["slow"]),
        "idle_median_lifetime_s": median(attacker.lifetimes["idle"]),
        "attack_connections_opened": attacker.opened["slow"] + attacker.opened["idle"],
        "server_alive": alive,
    }
    log(
        f"slowloris [{backend}, {out['tree']}, {'re-opened' if reopen else 'opened once'}]: "
        f"{out['acknowledged']} of {normal} normal requests "
        f"acknowledged (5xx {out['failed_5xx']}, no answer {out['failed_connection']}), worst "
        f"{out['worst_latency_s']} s, median {out['median_latency_s']} s; server closed "
        f"{out['slow_closed_by_server']} slowloris (median life {out['slow_median_lifetime_s']} s) "
        f"and {out['idle_closed_by_server']} idle connections "
        f"(median life {out['idle_median_lifetime_s']} s)"
    )
    return out


def run_rate_limit(
    backend: str,
    *,
    pythonpath: str | None = None,
    limits: dict[str, int] | None = None,
    seconds: float = FLOOD_SECONDS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One client floods the store from `FLOOD_THREADS` kept-alive connections for `seconds`
    while a polite client (another address) sends `POLITE` requests spread over the same
    time. `limits` sets `per_store` / `per_client` (else the tree's defaults)."""
    env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    if limits:
        for key, value in limits.items():
            env[f"SHOPEVENTS_INGEST_RATE_LIMIT_{key.upper()}"] = str(value)
    logdir = Path(tempfile.mkdtemp(prefix="bench-rate-"))
    target, server, path = _start(backend, env, logdir, None)
    flood: list[int] = []
    polite: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def flooder() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {"Content-Type": "text/plain", "X-Forwarded-For": FLOODER}
        mine: list[int] = []
        while not stop.is_set():
            try:
                conn.request("POST", path, body=PAYLOAD, headers=headers)
                resp = conn.getresponse()
                resp.read()
                mine.append(resp.status)
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
            except OSError:
                mine.append(0)
                conn.close()
        conn.close()
        with lock:
            flood.extend(mine)

    try:
        threads = [threading.Thread(target=flooder, daemon=True) for _ in range(FLOOD_THREADS)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # the flood is on
        t0 = time.monotonic()
        for i in range(POLITE):
            delay = t0 + i * (seconds - 0.5) / POLITE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            status, took = _post(server.port, path, {"X-Forwarded-For": POLITE_CLIENT}, 10)
            polite.append(status)
            latencies.append(took)
        remaining = seconds - 0.5 - (time.monotonic() - t0)
        if remaining > 0:
            time.sleep(remaining)
        stop.set()
        for t in threads:
            t.join(15)
    finally:
        stop.set()
        _stop(target, server)
    out = {
        "scenario": "rate-limit",
        "backend": backend,
        "tree": pythonpath or "this",
        "limits": limits or "defaults",
        "seconds": seconds,
        "flood_requests": len(flood),
        "flood_acknowledged": flood.count(200),
        "flood_429": flood.count(429),
        "requests": len(polite),
        "acknowledged": polite.count(200),
        "polite_429": polite.count(429),
        "failed_5xx": sum(1 for s in polite + flood if s >= 500),
        "worst_latency_s": round(max(latencies), 3) if latencies else None,
    }
    log(
        f"rate limit [{backend}, {out['tree']}, limits {out['limits']}]: flooding client sent "
        f"{out['flood_requests']} in {seconds:g} s, {out['flood_acknowledged']} acknowledged, "
        f"{out['flood_429']} refused 429; polite client {out['acknowledged']} of "
        f"{out['requests']} acknowledged ({out['polite_429']} 429), worst "
        f"{out['worst_latency_s']} s; 5xx {out['failed_5xx']}"
    )
    return out


def run_all(backends: list[str], pythonpath: str | None = None) -> list[dict[str, Any]]:
    results = []
    for backend in backends:
        results.append(run_slowloris(backend, pythonpath=pythonpath))
        results.append(run_slowloris(backend, pythonpath=pythonpath, reopen=True))
        results.append(run_rate_limit(backend, pythonpath=pythonpath))
        results.append(
            run_rate_limit(
                backend, pythonpath=pythonpath, limits={"per_store": 50, "per_client": 20}
            )
        )
    return results
