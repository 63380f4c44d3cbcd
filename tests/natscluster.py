"""A 3-node NATS JetStream cluster on loopback for the tests: three `nats-server` processes
(from PATH) on free ports, their stores in a directory of their own, started once per test
worker and stopped at its end."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import shutil
import signal
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
import nats.errors
from nats.js.errors import NotFoundError

from shopevents.app import create_app
from shopevents.clock import SystemClock
from shopevents.cluster import messages, streams
from shopevents.cluster.collector import ClusterIntake
from shopevents.cluster.nats import connect
from shopevents.config import ClusterSettings
from shopevents.context import AppContext
from shopevents.storage.database import Database

T = TypeVar("T")

STARTUP_SECONDS = 30
API_SECONDS = 20.0


def _running(pid: int) -> bool:
    """Whether the process is alive (a zombie, ended but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


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

    # --- one cluster for every worker of a run ------------------------------------------

    def save(self, path: Path) -> None:
        """Writes where this cluster listens and its processes, for `attach` and `kill`."""
        path.write_text(
            json.dumps(
                {
                    "client": self.client_ports,
                    "http": self.http_ports,
                    "route": self.route_ports,
                    "pids": [p.pid for p in self.processes],
                }
            )
        )

    @classmethod
    def attach(cls, path: Path) -> NatsCluster:
        """The cluster another process of the run started and saved at `path` (its processes
        are not this one's: `stop` leaves them running)."""
        saved = json.loads(path.read_text())
        cluster = cls(path.parent)
        cluster.client_ports, cluster.http_ports = saved["client"], saved["http"]
        cluster.route_ports = saved["route"]
        return cluster

    @staticmethod
    def kill(path: Path) -> None:
        """Ends the processes of the cluster saved at `path` (from any process of the run)."""
        pids = json.loads(path.read_text())["pids"]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(pid) for pid in pids):
            time.sleep(0.05)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

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


class ClusterSession:
    """A test worker's side of its NATS cluster: one connection (for the barrier and
    clean-up) and the stream prefixes it has initialised with `cluster init`'s own code (the
    stream, its per-partition consumers and the leases bucket, replicas 3). Creating one takes
    seconds (a Raft group per object, each electing a leader), and every Raft group costs the
    NATS servers CPU for as long as it exists, idle or not (about 8 ms a second for a prefix,
    against 0.3 s to make one). So a worker keeps as few as it can: one is made in the
    background when the session starts, a test's prefix is emptied back to that state
    afterwards (its messages and leases purged) for the worker's next test, and only when a
    test changed or removed one of its objects is its prefix deleted and a new one made in the
    background. A test has the stream to itself while it runs."""

    PARTITIONS = 4

    def __init__(self, nats: NatsCluster, loop: LoopThread) -> None:
        self.nats = nats
        self.loop = loop
        self.nc: Any = None
        self.js: Any = None
        self.pool: list[concurrent.futures.Future[str]] = []
        self.recycled: collections.deque[str] = collections.deque()
        self.releases: list[concurrent.futures.Future[None]] = []

    def start(self) -> ClusterSession:
        self.loop.run(self._connect())
        self._make_one()
        return self

    async def _connect(self) -> None:
        # The cluster is up; a loaded machine may take longer than connect()'s default first
        # attempt to finish the handshake.
        self.nc = await connect(self.nats.urls, name="tests", first_wait=API_SECONDS)
        # Creating a replicated stream or consumer elects a Raft leader: seconds on a loaded
        # machine, past nats-py's 5 s default.
        self.js = self.nc.jetstream(timeout=API_SECONDS)

    async def _initialised(self) -> str:
        for attempt in range(3):
            try:
                return await self._initialise()
            except nats.errors.Error:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _layout(self, prefix: str) -> streams.Layout:
        return streams.Layout(
            prefix=prefix,
            partitions=self.PARTITIONS,
            replicas=3,
            max_bytes=ClusterSettings().max_stream_bytes,
        )

    async def _initialise(self) -> str:
        prefix = f"t{uuid.uuid4().hex[:12]}"
        layout = self._layout(prefix)
        layout_stream = messages.stream_name(prefix)
        # What `cluster init` creates, its objects made concurrently (each is a Raft group
        # that elects its leader, about half a second apiece here), then `cluster init` itself,
        # which finds them all.
        await self.js.add_stream(streams.stream_config(layout))
        await asyncio.gather(
            *(
                self.js.add_consumer(layout_stream, streams.consumer_config(prefix, p))
                for p in range(self.PARTITIONS)
            ),
            *(self.js.create_key_value(config) for config in streams.bucket_configs(layout)),
        )
        said = await streams.init(self.js, layout)
        assert all("created" not in line for line in said), said
        return prefix

    def _make_one(self) -> None:
        """Starts making a prefix in the background."""
        self.pool.append(asyncio.run_coroutine_threadsafe(self._initialised(), self.loop.loop))

    def take(self) -> str:
        """A prefix whose stream, consumers and bucket exist as `cluster init` makes them,
        empty: an emptied one if there is one (once the releases under way have ended), else
        the one being made, else a new one."""
        for release in self.releases:
            with contextlib.suppress(Exception):
                release.result(timeout=API_SECONDS)
        self.releases = []
        with contextlib.suppress(IndexError):
            return self.recycled.popleft()
        if not self.pool:
            self._make_one()
        return self.pool.pop(0).result(timeout=120)

    async def _emptied(self, prefix: str) -> bool:
        """Empties a used prefix (its stream's messages, its leases) if its objects are as
        they were made: the same configuration, every consumer there and no other, and no
        message left unacknowledged after the purge. False if not (it is then deleted)."""

        def same(made: Any, now: Any) -> bool:
            # the fields the made configuration sets; the server fills in the others
            return all(
                getattr(now, f.name) == value
                for f in dataclasses.fields(made)
                if (value := getattr(made, f.name)) is not None
            )

        layout = self._layout(prefix)
        name = messages.stream_name(prefix)
        info = await self.js.stream_info(name)
        if not same(streams.stream_config(layout), info.config):
            return False
        if info.state.consumer_count != self.PARTITIONS:
            return False
        await self.js.purge_stream(name)
        for config in streams.bucket_configs(layout):
            bucket = await self.js.stream_info(f"KV_{config.bucket}")
            if bucket.config.num_replicas != config.replicas:
                return False
            await self.js.purge_stream(f"KV_{config.bucket}")
        for p in range(self.PARTITIONS):
            consumer = await self.js.consumer_info(name, messages.consumer_name(p))
            if not same(streams.consumer_config(prefix, p), consumer.config):
                return False
            if consumer.num_pending or consumer.num_ack_pending or consumer.num_waiting:
                return False
        return True

    async def _recycle(self, prefix: str) -> None:
        try:
            emptied = await self._emptied(prefix)
        except Exception:  # whatever went wrong, the prefix is not reused
            emptied = False
        if emptied:
            self.recycled.append(prefix)
        else:
            await self._delete(prefix)
            if not self.recycled and not self.pool:
                self._make_one()

    async def _delete(self, prefix: str) -> None:
        with contextlib.suppress(Exception):
            await self.js.delete_stream(messages.stream_name(prefix))
        for what in ("answers", "leases"):
            with contextlib.suppress(Exception):
                await self.js.delete_key_value(messages.bucket_name(prefix, what))

    def release(self, prefix: str) -> None:
        """Empties a used prefix for a later test, or deletes it, in the background."""
        self.releases = [f for f in self.releases if not f.done()]
        self.releases.append(
            asyncio.run_coroutine_threadsafe(self._recycle(prefix), self.loop.loop)
        )

    def stop(self) -> None:
        for future in self.pool:
            future.cancel()
        for release in self.releases:
            with contextlib.suppress(Exception):
                release.result(timeout=10)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                self.loop.run(self.nc.close(), timeout=10)


class Rig:
    """Cluster mode for one test: a stream prefix of its own on the worker's NATS cluster,
    two processors applying to the test's PostgreSQL database, and collectors' intake drivers
    on demand. `settle()` is the barrier the harness runs after every write it sends: it
    returns when the processors have applied (and acknowledged) everything published so far."""

    def __init__(self, session: ClusterSession, settings: Any, db: Any) -> None:
        self.session = session
        self.loop = session.loop
        self.prefix = session.take()
        parts = session.PARTITIONS
        self.settings = msgspec.structs.replace(
            settings,
            cluster=msgspec.structs.replace(
                settings.cluster,
                nats_urls=session.nats.url,
                prefix=self.prefix,
                partitions=parts,
                replicas=3,
                # The tests share a machine with other tests: a publish is allowed longer than
                # a deployment's default before a collector gives up on it.
                publish_timeout_seconds=API_SECONDS,
            ),
        )
        self.db = db
        self.stream = messages.stream_name(self.prefix)
        self.subjects = [messages.subject(self.prefix, p) for p in range(parts)]
        self.consumers = [messages.consumer_name(p) for p in range(parts)]
        self.processors: list[Any] = []
        self._drivers: list[ClusterIntake] = []
        self._contexts: list[tuple[Any, Any]] = []
        self.sent = 0

    @property
    def js(self) -> Any:
        return self.session.js

    def start(self, processors: int = 2, worker: bool = False) -> Rig:
        """`worker`: the processors also run the worker loop (abandonment, webhooks,
        retention), as `shopevents process` does unless `--no-worker`."""
        from shopevents.cluster.processor import Processor

        for i in range(processors):
            # Each its own Database, as each its own process would have.
            processor = Processor(
                self.settings, Database(self.db.url), SystemClock(), worker=worker, name=f"p{i}"
            )
            self.processors.append(processor.start())
        return self

    # -- requests through the collectors' intake driver -----------------------------------

    def send(self, prepared: list[Any], clock: Any, *, settle: bool = True) -> list[dict[str, Any]]:
        """Each request submitted in turn to the next of two collectors' intake drivers (on
        `clock`), then (`settle`) the barrier: the answers, once the processors have applied
        them."""
        if not self._drivers:
            self._drivers = [self.loop.run(self._driver(clock)) for _ in range(2)]
        answers = []
        for p in prepared:
            driver = self._drivers[self.sent % len(self._drivers)]
            driver.ctx.clock = clock
            self.sent += 1
            answer, _ = self.loop.run(driver.submit(p, max(1, len(p.events))))
            answers.append(answer)
        if settle:
            self.settle()
        return answers

    async def _driver(self, clock: Any) -> Any:
        ctx = AppContext(self.settings, Database(self.db.url), clock)
        driver = cluster_intake(ctx)
        self._contexts.append((ctx, driver))
        await driver.start()
        return driver

    # -- the barrier ----------------------------------------------------------------------

    async def _lasts(self) -> dict[str, int]:
        """Each partition's consumer → the stream sequence of its subject's last message (read
        from the stream leader, which holds every acknowledged publish), if it has one."""

        async def last(subject: str) -> int:
            try:
                return int((await self.js.get_last_msg(self.stream, subject)).seq)
            except NotFoundError:
                return 0

        lasts = await asyncio.gather(*(last(s) for s in self.subjects))
        return {c: seq for c, seq in zip(self.consumers, lasts, strict=True) if seq}

    async def _consumer_info(self, consumer: str) -> Any:
        """The consumer's state; None while it is missing: a processor that takes a partition
        with unacknowledged messages (its lease expired under load) deletes its consumer and
        makes it again."""
        try:
            return await self.js.consumer_info(self.stream, consumer)
        except NotFoundError:
            return None

    async def _settle(self, timeout: float) -> None:
        """Until every consumer has acknowledged (its processor applied and committed) the
        last message its partition had when the barrier began."""
        deadline = time.monotonic() + timeout
        waiting = await self._lasts()
        pause = 0.001
        while waiting:
            names = list(waiting)
            infos = await asyncio.gather(*(self._consumer_info(c) for c in names))
            behind = [
                f"{c}: being made again by the processor taking its partition"
                if info is None
                else f"{c}: last {waiting[c]}, acknowledged through {info.ack_floor.stream_seq}, "
                f"{info.num_pending} pending, {info.num_ack_pending} unacknowledged"
                for c, info in zip(names, infos, strict=True)
                if info is None or info.ack_floor.stream_seq < waiting[c]
            ]
            for c, info in zip(names, infos, strict=True):
                if info is not None and info.ack_floor.stream_seq >= waiting[c]:
                    del waiting[c]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the processors did not apply everything published within {timeout:g} s: "
                    + "; ".join(behind)
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.01)

    def settle(self, timeout: float = 30) -> None:
        self.loop.run(self._settle(timeout), timeout + 10)

    # -- stop -----------------------------------------------------------------------------

    def stop(self) -> None:
        for ctx, driver in self._contexts:
            with contextlib.suppress(Exception):
                self.loop.run(driver.close())
            ctx.close()
        # Both at once: each finishes its batch in hand (a fetch waits up to 0.2 s).
        with concurrent.futures.ThreadPoolExecutor(max(1, len(self.processors))) as stopping:
            list(stopping.map(lambda processor: processor.stop(), self.processors))
        self.session.release(self.prefix)


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


def cluster_intake(ctx: AppContext) -> ClusterIntake:
    """A collector's intake driver, on the context's cluster settings."""
    c = ctx.settings.cluster
    return ClusterIntake(
        ctx, c.nats_urls, c.prefix, publish_timeout=c.publish_timeout_seconds, first_wait=10
    )


def collector_app(settings: Any, db: Database, clock: Any) -> Any:
    """The app as `shopevents collect` runs it: the cluster intake driver, no worker loop; on
    a Database of its own, as another process would have."""
    return create_app(settings, Database(db.url), clock, worker=False, intake=cluster_intake)
