"""Cluster mode's moving parts for the bench: a 3-node NATS JetStream cluster on loopback,
collectors (`shopevents collect`) and processors (`shopevents process`) on one PostgreSQL
database, each process's CPU read from /proc, and waiting until processors have applied what
collectors acknowledged.

Used by `python -m bench run --mode cluster` (bench/cluster_run.py) and `python -m bench faults
--mode cluster` (bench/cluster_faults.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from bench.procs import CpuTracker, Server, free_port, pin_prefix, session_pids
from bench.targets import REPO, venv_bin

NATS_START_SECONDS = 30.0


def nats_server() -> str:
    found = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if found is None:
        raise SystemExit("nats-server is missing: apt-get install nats-server")
    return found


class NatsCluster:
    """Three JetStream nodes clustered on loopback, each in its own session, on free ports."""

    def __init__(self, workdir: Path, nodes: int = 3) -> None:
        self.dir = workdir / "nats"
        self.nodes = nodes
        self.client = [free_port() for _ in range(nodes)]
        self.http = [free_port() for _ in range(nodes)]
        self.route = [free_port() for _ in range(nodes)]
        self.procs: list[subprocess.Popen | None] = [None] * nodes
        self.cpu = CpuTracker()

    @property
    def urls(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.client)

    def _conf(self, i: int) -> Path:
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.route)
        store = self.dir / f"n{i + 1}"
        store.mkdir(parents=True, exist_ok=True)
        conf = self.dir / f"n{i + 1}.conf"
        conf.write_text(
            f"server_name: n{i + 1}\n"
            f"listen: 127.0.0.1:{self.client[i]}\n"
            f"http: 127.0.0.1:{self.http[i]}\n"
            f'jetstream {{ store_dir: "{store}" }}\n'
            f"cluster {{ name: bench, listen: 127.0.0.1:{self.route[i]}, routes: [{routes}] }}\n"
        )
        return conf

    def start_node(self, i: int) -> None:
        with open(self.dir / f"n{i + 1}.log", "ab") as log:
            self.procs[i] = subprocess.Popen(
                [nats_server(), "-c", str(self._conf(i))],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> NatsCluster:
        self.dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.nodes):
            self.start_node(i)
        deadline = time.monotonic() + NATS_START_SECONDS
        while not all(self.meta_leader(i) for i in range(self.nodes)):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no JetStream meta leader in {NATS_START_SECONDS} s: {self.dir}"
                )
            time.sleep(0.05)
        return self

    def jsz(self, i: int, query: str = "") -> dict:
        url = f"http://127.0.0.1:{self.http[i]}/jsz{query}"
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.loads(r.read())

    def meta_leader(self, i: int) -> str | None:
        try:
            return self.jsz(i).get("meta_cluster", {}).get("leader")
        except (OSError, ValueError):
            return None

    def stream_leader(self, stream: str) -> int | None:
        """The node (0-based) leading `stream`, as a live node reports it."""
        for i in range(self.nodes):
            if self.procs[i] is None or self.procs[i].poll() is not None:
                continue
            try:
                data = self.jsz(i, "?accounts=true&streams=true")
            except (OSError, ValueError):
                continue
            for account in data.get("account_details") or []:
                for s in account.get("stream_detail") or []:
                    if s.get("name") == stream:
                        leader = (s.get("cluster") or {}).get("leader")
                        if leader and leader.startswith("n"):
                            return int(leader[1:]) - 1
        return None

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def sample(self) -> None:
        self.cpu.update(self.pids())

    def kill9(self, i: int) -> None:
        p = self.procs[i]
        if p is not None and p.poll() is None:
            self.sample()
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)

    def stop(self) -> None:
        self.sample()
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


class Background:
    """A long-running command (a processor) in its own session; its CPU sampled from /proc so
    a process that is killed still counts."""

    def __init__(self, name: str, argv: list[str], *, env=None, log: Path, core: int | None):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log
        self.core = core
        self.proc: subprocess.Popen | None = None
        self.cpu = CpuTracker()
        self._stop = threading.Event()

    def start(self) -> None:
        prefix = pin_prefix(self.core) if self.core is not None else []
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                prefix + self.argv,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._stop.clear()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.snapshot()
            self._stop.wait(0.25)

    def pids(self) -> list[int]:
        return session_pids(self.proc.pid) if self.proc is not None else []

    def snapshot(self) -> None:
        self.cpu.update(self.pids())

    def cpu_seconds(self) -> float:
        self.snapshot()
        return self.cpu.total()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.snapshot()
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if not self.alive():
            return
        assert self.proc is not None
        self.snapshot()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def shopevents(db_url: str, *args: str, env=None, timeout: float = 120) -> str:
    argv = [venv_bin("shopevents"), "--database", db_url, *args]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr[-2000:]}")
    return res.stdout


class Deployment:
    """NATS cluster + `cluster init` + collectors + processors on one PostgreSQL database.
    Collectors are pinned to the server core (as `serve` is in the embedded runs); processors
    to `processor_core`, or left to the scheduler."""

    def __init__(
        self,
        db_url: str,
        workdir: Path,
        *,
        collectors: int,
        processors: int,
        env: dict[str, str] | None = None,
        processor_core: int | None = None,
    ) -> None:
        self.db_url = db_url
        self.workdir = workdir
        self.ncollectors = collectors
        self.nprocessors = processors
        self.env = dict(os.environ, **(env or {}))
        self.processor_core = processor_core
        self.nats = NatsCluster(workdir)
        self.collectors: list[Server] = []
        self.processors: list[Background] = []
        self.store_id = ""
        self.api_key = ""
        self._sampling = threading.Event()

    def cli(self, *args: str) -> str:
        return shopevents(self.db_url, *args, env=self.env)

    def start(self) -> Deployment:
        self.nats.start()
        self.cli("migrate")
        self.cli("cluster", "init", "--nats", self.nats.urls, "--replicas", "3")
        made = json.loads(self.cli("stores", "create", "bench", "--json").strip().splitlines()[-1])
        self.store_id = made["storeId"]
        self.api_key = f"{made['apiKeyId']}:{made['apiKeySecret']}"
        for i in range(self.nprocessors):
            self.processors.append(self.processor(i))
            self.processors[-1].start()
        for i in range(self.ncollectors):
            self.collectors.append(self.collector(i))
            self.collectors[-1].start(timeout=60)
        self._sampling.clear()
        threading.Thread(target=self._sample_nats, daemon=True).start()
        return self

    def _sample_nats(self) -> None:
        while not self._sampling.is_set():
            self.nats.sample()
            self._sampling.wait(0.25)

    def collector(self, i: int, port: int | None = None) -> Server:
        port = port or free_port()
        argv = [venv_bin("shopevents"), "--database", self.db_url, "collect", "--nats",
                self.nats.urls, "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        server = Server(f"collect-{i + 1}", argv, port, cwd=REPO, env=self.env,
                        log=self.workdir / f"collect-{i + 1}.log")  # fmt: skip
        return server

    def processor(self, i: int) -> Background:
        argv = [venv_bin("shopevents"), "--database", self.db_url, "process", "--nats",
                self.nats.urls]  # fmt: skip
        return Background(f"process-{i + 1}", argv, env=self.env,
                          log=self.workdir / f"process-{i + 1}.log", core=self.processor_core)  # fmt: skip

    @property
    def ingest_path(self) -> str:
        return f"/integration-type/system/scrippet-notification/{self.store_id}"

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each role (killed processes included)."""
        self.nats.sample()
        return {
            "collector": sum(c.cpu_seconds()[0] for c in self.collectors),
            "processor": sum(p.cpu_seconds() for p in self.processors),
            "nats": self.nats.cpu.total(),
        }

    def stop(self) -> None:
        self._sampling.set()
        for c in self.collectors:
            with contextlib.suppress(Exception):
                c.stop()
        for p in self.processors:
            with contextlib.suppress(Exception):
                p.stop()
        with contextlib.suppress(Exception):
            self.nats.stop()


def count_requests(conn) -> int:
    return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])


def wait_applied(connect, expected: int, timeout: float = 120.0, settle: float = 0.5) -> float:
    """Wait until the database holds at least `expected` requests and the count has stopped
    moving for `settle` s; return the seconds waited. Raises on timeout."""
    t0 = time.monotonic()
    last, last_change = -1, t0
    while True:
        try:
            with connect() as conn:
                n = count_requests(conn)
        except Exception:  # the database may be restarting
            n = last
        now = time.monotonic()
        if n != last:
            last, last_change = n, now
        if n >= expected and now - last_change >= settle:
            return last_change - t0
        if now - t0 > timeout:
            raise RuntimeError(f"processors applied {n} of {expected} requests in {timeout:.0f} s")
        time.sleep(0.05)
