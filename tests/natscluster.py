"""A 3-node NATS JetStream cluster on loopback for the tests: three `nats-server` processes
(from PATH) on free ports, their stores in a directory of their own, started once per test
worker and stopped at its end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

T = TypeVar("T")

STARTUP_SECONDS = 30


class NatsClusterError(RuntimeError):
    pass


def _free_ports(n: int) -> list[int]:
    """n distinct free ports (bound together, so they are distinct, then released)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


class NatsCluster:
    """Three JetStream nodes clustered on loopback. `urls` are their client URLs."""

    def __init__(self, directory: Path, nodes: int = 3, name: str = "shopevents-test") -> None:
        self.directory = directory
        self.nodes = nodes
        self.name = name
        self.processes: list[subprocess.Popen[bytes]] = []
        self.client_ports: list[int] = []
        self.http_ports: list[int] = []
        self.route_ports: list[int] = []

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{p}" for p in self.client_ports]

    @property
    def url(self) -> str:
        """All nodes, comma-separated, as the `--nats` option takes them."""
        return ",".join(self.urls)

    def start(self) -> NatsCluster:
        binary = shutil.which("nats-server")
        if binary is None:
            raise NatsClusterError(
                "nats-server is not on PATH: the cluster-mode tests start a 3-node JetStream "
                "cluster with it (Debian/Ubuntu: apt-get install nats-server)"
            )
        last: Exception | None = None
        for _ in range(3):  # a free port may be taken by someone else before the node binds it
            try:
                self._start(binary)
                return self
            except NatsClusterError as e:
                last = e
                self.stop()
        raise NatsClusterError(f"the NATS cluster did not start: {last}")

    def _start(self, binary: str) -> None:
        ports = _free_ports(3 * self.nodes)
        self.client_ports = ports[: self.nodes]
        self.http_ports = ports[self.nodes : 2 * self.nodes]
        self.route_ports = ports[2 * self.nodes :]
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.route_ports)
        self.processes = []
        for i in range(self.nodes):
            node = self.directory / f"n{i + 1}"
            if node.exists():
                shutil.rmtree(node)
            (node / "js").mkdir(parents=True)
            conf = node / "nats.conf"
            conf.write_text(
                f"server_name: n{i + 1}\n"
                f"listen: 127.0.0.1:{self.client_ports[i]}\n"
                f"http: 127.0.0.1:{self.http_ports[i]}\n"
                f'jetstream {{ store_dir: "{node / "js"}" }}\n'
                f"cluster {{ name: {self.name}, listen: 127.0.0.1:{self.route_ports[i]}, "
                f"routes: [{routes}] }}\n"
            )
            log = open(node / "nats.log", "wb")  # noqa: SIM115 (the process keeps it)
            try:
                self.processes.append(
                    subprocess.Popen(
                        [binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
                    )
                )
            finally:
                log.close()
        self._wait_for_leader()

    def jsz(self, node: int = 0, query: str = "") -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.http_ports[node]}/jsz{query}"
        with urllib.request.urlopen(url, timeout=2) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data

    def _wait_for_leader(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            for i, p in enumerate(self.processes):
                if p.poll() is not None:
                    raise NatsClusterError(
                        f"nats-server n{i + 1} exited with {p.returncode}: {self.log_tail(i)}"
                    )
            try:
                if all(
                    self.jsz(i).get("meta_cluster", {}).get("leader") for i in range(self.nodes)
                ):
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise NatsClusterError(
                    f"no JetStream meta leader after {STARTUP_SECONDS} s: {self.log_tail(0)}"
                )
            time.sleep(0.05)

    def log_tail(self, node: int, lines: int = 20) -> str:
        path = self.directory / f"n{node + 1}" / "nats.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=5)
        self.processes = []


# --- cluster mode: a stream prefix, processors and collectors per test ---------------------


class LoopThread:
    """An asyncio event loop in a daemon thread: the tests' synchronous code runs coroutines on
    it (NATS calls, the collector's intake driver)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class Rig:
    """Cluster mode for one test: its own stream prefix (the stream, consumers and buckets
    `cluster init` makes, replicas 3) on the worker's NATS cluster, two processors applying
    to the test's PostgreSQL database, and collectors on demand. `settle()` is the barrier
    the harness runs after every write it sends: it returns when the processors have applied
    (and acknowledged) everything published so far."""

    PARTITIONS = 4

    def __init__(self, nats: NatsCluster, loop: LoopThread, settings: Any, db: Any) -> None:
        from shopevents.cluster import messages
        from shopevents.config import ClusterSettings

        self.nats = nats
        self.loop = loop
        self.prefix = f"t{uuid.uuid4().hex[:12]}"
        self.settings = msgspec.structs.replace(
            settings,
            cluster=ClusterSettings(
                nats_urls=nats.url, prefix=self.prefix, partitions=self.PARTITIONS, replicas=3
            ),
        )
        self.db = db
        self.stream = messages.stream_name(self.prefix)
        self.subjects = [messages.subject(self.prefix, p) for p in range(self.PARTITIONS)]
        self.consumers = [messages.consumer_name(p) for p in range(self.PARTITIONS)]
        self.processors: list[Any] = []
        self.nc: Any = None
        self.js: Any = None
        self._drivers: dict[Any, list[Any]] = {}
        self._contexts: list[tuple[Any, Any]] = []
        self.sent = 0

    async def _connect(self) -> None:
        import nats

        self.nc = await nats.connect(servers=self.nats.urls, max_reconnect_attempts=-1)
        self.js = self.nc.jetstream()

    def start(self, processors: int = 2) -> Rig:
        from shopevents.cluster.processor import Processor

        from shopevents.clock import SystemClock
        from shopevents.cluster import streams

        self.loop.run(self._connect())
        self.loop.run(streams.init(self.js, self.settings.cluster))
        for _ in range(processors):
            self.processors.append(
                Processor(self.settings, self.db, SystemClock(), worker=False).start()
            )
        return self

    # -- requests through the collectors' intake driver -----------------------------------

    def send(self, prepared: list[Any], clock: Any) -> list[dict[str, Any]]:
        """Each request submitted in turn to the next of two collectors' intake drivers (on
        `clock`), then the barrier: the answers, once the processors have applied them."""
        if clock not in self._drivers:
            self._drivers[clock] = [self.loop.run(self._driver(clock)) for _ in range(2)]
        drivers = self._drivers[clock]
        answers = []
        for p in prepared:
            driver = drivers[self.sent % len(drivers)]
            self.sent += 1
            answer, _ = self.loop.run(driver.submit(p, max(1, len(p.events))))
            answers.append(answer)
        self.settle()
        return answers

    async def _driver(self, clock: Any) -> Any:
        from shopevents.cluster.collector import ClusterIntake

        from shopevents.context import AppContext

        ctx = AppContext(self.settings, self.db, clock)
        driver = ClusterIntake(ctx)
        await driver.start()
        self._contexts.append((ctx, driver))
        return driver

    # -- the barrier ----------------------------------------------------------------------

    async def _behind(self) -> list[str]:
        """The partitions whose consumer has not yet acknowledged the last message of its
        subject (read from the stream leader, which holds every acknowledged publish)."""
        from nats.js.errors import NotFoundError

        async def last(subject: str) -> int:
            try:
                return int((await self.js.get_last_msg(self.stream, subject)).seq)
            except NotFoundError:
                return 0

        lasts, infos = await asyncio.gather(
            asyncio.gather(*(last(s) for s in self.subjects)),
            asyncio.gather(*(self.js.consumer_info(self.stream, c) for c in self.consumers)),
        )
        return [
            f"{c}: last {seq}, acknowledged through {info.ack_floor.stream_seq}, "
            f"{info.num_pending} pending, {info.num_ack_pending} unacknowledged"
            for c, seq, info in zip(self.consumers, lasts, infos, strict=True)
            if info.ack_floor.stream_seq < seq or info.num_pending or info.num_ack_pending
        ]

    async def _settle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            behind = await self._behind()
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the processors did not apply everything published within {timeout:g} s: "
                    + "; ".join(behind)
                )
            await asyncio.sleep(0.002)

    def settle(self, timeout: float = 30) -> None:
        self.loop.run(self._settle(timeout), timeout + 10)

    # -- stop -----------------------------------------------------------------------------

    async def _delete(self) -> None:
        from shopevents.cluster import messages

        with contextlib.suppress(Exception):
            await self.js.delete_stream(self.stream)
        for what in ("answers", "leases"):
            with contextlib.suppress(Exception):
                await self.js.delete_key_value(messages.bucket_name(self.prefix, what))
        await self.nc.close()

    def stop(self) -> None:
        for _, driver in self._contexts:
            with contextlib.suppress(Exception):
                self.loop.run(driver.stop())
        for processor in self.processors:
            processor.stop()
        if self.nc is not None:
            self.loop.run(self._delete())


class Alternating(httpx.BaseTransport):
    """Sends each request to the next of several servers in turn (as a load balancer in front
    of the collectors would), and after each write (any method but GET, HEAD and OPTIONS)
    waits until the processors have applied what it published, so that reads see it."""

    def __init__(self, ports: list[int], settle: Callable[[], None]) -> None:
        self.inner = httpx.HTTPTransport()
        self.ports = ports
        self.settle = settle
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = self.ports[self.sent % len(self.ports)]
        self.sent += 1
        request.url = request.url.copy_with(port=port)
        request.headers["Host"] = f"{request.url.host}:{port}"
        response = self.inner.handle_request(request)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            response.read()
            self.settle()
        return response

    def close(self) -> None:
        self.inner.close()


def collector_app(settings: Any, db: Any, clock: Any) -> Any:
    """The app as `shopevents collect` runs it: the cluster intake driver, no worker loop."""
    from shopevents.app import create_app

    return create_app(settings, db, clock, worker=False, cluster=True)  # type: ignore[call-arg]
