"""python -m bench faults --mode cluster: faults of cluster mode under traffic.

Each scenario gets its own private PostgreSQL (initdb in a temporary folder, own port: the
machine's PostgreSQL is never stopped), its own 3-node JetStream cluster, `cluster init`,
2 collectors and 2 processors. Client threads post through the collectors as a load balancer
would (each client has a home collector and moves to the other when its home does not
answer): page-visits of new contacts, each with its own `requestId`, and every 5th request a
purchase of a new `purchaseId`, which is then sent again (another `requestId`) through the
other collector and must be answered `duplicate`. An unanswered or `5xx` request is retried
with the same `requestId` after 0.2 s, as the client script does.

Faults: `kill -9` of a collector, of a processor, of the JetStream node leading the stream;
PostgreSQL stopped for 10 s; processors stopped until the stream's size limit is reached
(`stream-full`, 1 MiB), then started again.

The fault, then the heal, then traffic stops and the processors are left to catch up (at most
90 s). Judged from PostgreSQL:
- acknowledged: requests answered `200`; stored: those found in `requests` (by requestId);
  lost: acknowledged, not stored; duplicated: a requestId stored twice;
- buyers: contacts whose aggregate counts a purchase; purchases accepted twice: a purchase answered `accepted` by two different requests, or
  stored twice; aggregate ≠ ledger: contacts whose purchase count or total differs from their
  rows in the ledger;
- 5xx: answers `5xx` (a `503` while a fault lasts), visit 5xx: those to page-visits alone
  (no purchase, so no PostgreSQL claim);
- in stream: messages the intake stream still holds unapplied at the end (pending or
  unacknowledged): an acknowledged request not stored but still there is late, not lost;
- caught up: seconds from the end of the traffic (3 s after the heal) until every
  acknowledged request was applied: processing resumes by itself (nothing is restarted but
  the killed collector or JetStream node, and a killed processor is not restarted at all);
- worst: the slowest answer (of any status) to a request sent while the fault lasted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cluster import Deployment
from bench.faults import PrivatePostgres
from shopevents.cluster.messages import stream_name

CLIENTS = 6
PAUSE = 0.005
PURCHASE_EVERY = 5
DRAIN_TIMEOUT = 90.0
STREAM = stream_name("shopevents")


@dataclass
class Sent:
    key: str
    statuses: list[int] = field(default_factory=list)
    purchase_id: str | None = None
    purchase_verdicts: list[str] = field(default_factory=list)


class Traffic:
    def __init__(self, dep: Deployment, clients: int = CLIENTS) -> None:
        self.dep = dep
        self.clients = clients
        self.stop_event = threading.Event()
        self.sent: list[Sent] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.timings: list[tuple[float, float, int]] = []

    def _post(self, home: int, body: bytes) -> tuple[int, bytes]:
        """Post to the home collector, else the other one; (0, b"") when neither answered."""
        ports = [c.port for c in self.dep.collectors]
        for port in (ports[home % len(ports)], ports[(home + 1) % len(ports)]):
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("POST", self.dep.ingest_path, body, {"Content-Type": "text/plain"})
                r = conn.getresponse()
                status, answer = r.status, r.read()
            except (OSError, http.client.HTTPException):
                continue
            finally:
                conn.close()
            with self.lock:
                self.timings.append((started, time.monotonic() - started, status))
            return status, answer
        return 0, b""

    def _send(self, home: int, payload: dict, out: Sent) -> None:
        body = json.dumps(payload).encode()
        while True:
            status, answer = self._post(home, body)
            out.statuses.append(status)
            if status == 200:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    for r in json.loads(answer)["results"]:
                        if r["type"] == "purchase":
                            out.purchase_verdicts.append(r["status"])
                return
            if 400 <= status < 500 and status != 429:
                return
            if self.stop_event.wait(0.2):
                return

    def _client(self, home: int) -> None:
        n = 0
        while not self.stop_event.is_set():
            n += 1
            key = uuid.uuid4().hex
            email = f"{key[:12]}@example.com"
            payload: dict[str, Any] = {"requestId": key, "events": [{"type": "page-visit"}],
                                       "entityInfo": {"primaryKey": email}}  # fmt: skip
            first = Sent(key)
            if n % PURCHASE_EVERY == 0:
                pid = f"p-{key[:16]}"
                first.purchase_id = pid
                payload["events"].insert(0, {"type": "purchase", "purchase": {
                    "purchaseId": pid, "purchaseDate": "2026-01-02T10:00:00Z",
                    "totalPrice": 12.5, "totalQuantity": 1,
                    "products": [{"productId": "sku-1", "name": "Lamp", "unitPrice": 12.5,
                                  "quantity": 1, "price": 12.5,
                                  "productDetailUrl": "https://shop.example/p/1"}]}})  # fmt: skip
            with self.lock:
                self.sent.append(first)
            self._send(home, payload, first)
            if first.purchase_id and 200 in first.statuses:
                again = Sent(uuid.uuid4().hex, purchase_id=first.purchase_id)
                with self.lock:
                    self.sent.append(again)
                self._send(home + 1, {**payload, "requestId": again.key}, again)
            time.sleep(PAUSE)

    def start(self) -> Traffic:
        for i in range(self.clients):
            self.threads.append(threading.Thread(target=self._client, args=(i,), daemon=True))
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(40)

    def worst(self, start: float, end: float) -> float:
        with self.lock:
            took = [t for s, t, status in self.timings if start <= s <= end and status != 0]
        return max(took, default=0.0)


def _connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def stored_keys(url: str) -> dict[str, int]:
    sql = "SELECT request_key, count(*) FROM requests WHERE request_key IS NOT NULL GROUP BY 1"
    with _connect(url) as conn:
        return {k: int(n) for k, n in conn.execute(sql)}


LEDGER_MISMATCH = """
SELECT count(*) FROM contacts c
LEFT JOIN (SELECT contact_id, count(*) AS n, sum(total_price) AS amount
           FROM purchases GROUP BY contact_id) p ON p.contact_id = c.id
WHERE c.merged_into IS NULL
  AND (c.total_purchases <> coalesce(p.n, 0)
       OR c.total_amount::numeric <> coalesce(p.amount, 0) / 1000000.0)
"""


def stream_waiting(urls: str, partitions: int = 16) -> int | None:
    """Messages of the intake stream that its consumers have not had acknowledged (pending or
    delivered and unacknowledged): what is still to apply, as opposed to lost."""
    import asyncio

    import nats

    async def count() -> int:
        nc = await nats.connect(urls.split(","), connect_timeout=2, max_reconnect_attempts=1)
        try:
            js = nc.jetstream(timeout=5)
            total = 0
            for p in range(partitions):
                info = await js.consumer_info(STREAM, f"part-{p}")
                total += (info.num_pending or 0) + (info.num_ack_pending or 0)
            return total
        finally:
            await nc.close()

    try:
        return asyncio.run(count())
    except Exception:
        return None


def judge(url: str, traffic: Traffic, drain_started: float) -> dict[str, Any]:
    acked = [s for s in traffic.sent if 200 in s.statuses]
    deadline = drain_started + DRAIN_TIMEOUT
    while True:
        try:
            stored = stored_keys(url)
        except Exception:
            stored = {}
        missing = sum(1 for s in acked if s.key not in stored)
        if missing == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    caught_up = time.monotonic() - drain_started
    time.sleep(1.0)  # a late redelivery would show as a duplicate
    stored = stored_keys(url)
    with _connect(url) as conn:
        ledger = dict(conn.execute("SELECT purchase_id, count(*) FROM purchases GROUP BY 1"))
        mismatched = int(conn.execute(LEDGER_MISMATCH).fetchone()[0])
        buyers = int(
            conn.execute("SELECT count(*) FROM contacts WHERE total_purchases > 0").fetchone()[0]
        )
    accepted_by: dict[str, set[str]] = {}
    for s in acked:
        if s.purchase_id and "accepted" in s.purchase_verdicts:
            accepted_by.setdefault(s.purchase_id, set()).add(s.key)
    purchases_acked = {s.purchase_id for s in acked if s.purchase_id}
    with _connect(url) as conn:
        claimed = {r[0] for r in conn.execute("SELECT purchase_id FROM purchase_claims")}
    unledgered = [
        f"{s.purchase_id}: statuses {s.statuses}, verdicts {s.purchase_verdicts}, "
        f"{'claimed' if s.purchase_id in claimed else 'not claimed'}"
        for s in acked
        if s.purchase_id and not ledger.get(s.purchase_id)
    ]
    return {
        "requests": len(traffic.sent),
        "acknowledged": len(acked),
        "stored": sum(1 for s in acked if s.key in stored),
        "lost": sum(1 for s in acked if s.key not in stored),
        "duplicated": sum(1 for n in stored.values() if n > 1),
        "purchases": len(purchases_acked),
        "purchases_stored": sum(1 for p in purchases_acked if ledger.get(p)),
        "accepted_twice": sum(1 for keys in accepted_by.values() if len(keys) > 1)
        + sum(1 for n in ledger.values() if n > 1),
        "buyers": buyers,
        "aggregate_mismatch": mismatched,
        "5xx": sum(1 for s in traffic.sent for st in s.statuses if st >= 500),
        "unledgered": unledgered,
        "visit_5xx": sum(
            1 for s in traffic.sent if not s.purchase_id for st in s.statuses if st >= 500
        ),
        "caught_up_s": round(caught_up, 1) if missing == 0 else None,
    }


@dataclass
class Env:
    pg: PrivatePostgres
    dep: Deployment
    workdir: Path


def _env(settings: dict[str, str] | None = None) -> Env:
    workdir = Path(tempfile.mkdtemp(prefix="shopevents-cluster-faults-"))
    pg = PrivatePostgres()
    pg.start()
    dep = Deployment(pg.url, workdir, collectors=2, processors=2, env=settings)
    return Env(pg, dep, workdir)


def _steady(env: Env, fault: Callable[[], None], during: float,
            heal: Callable[[], None] | None) -> dict[str, Any]:  # fmt: skip
    traffic = Traffic(env.dep).start()
    time.sleep(3.0)
    start = time.monotonic()
    fault()
    time.sleep(during)
    if heal is not None:
        heal()
    end = time.monotonic()
    time.sleep(3.0)
    traffic.stop()
    result = judge(env.dep.db_url, traffic, time.monotonic())
    result["in_stream"] = stream_waiting(env.dep.nats.urls)
    result["worst_s"] = round(traffic.worst(start, end), 2)
    return result


def kill_collector(env: Env) -> dict[str, Any]:
    """kill -9 of collector 1; its clients move to collector 2; it is started again 3 s later."""
    dep = env.dep
    first = dep.collectors[0]

    def fault() -> None:
        assert first.proc is not None
        import os
        import signal

        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)

    def heal() -> None:
        again = dep.collector(0, port=first.port)
        again.start(timeout=60)
        dep.collectors[0] = again

    return _steady(env, fault, 3.0, heal)


def kill_processor(env: Env) -> dict[str, Any]:
    """kill -9 of processor 1 mid-batch; not restarted: processor 2 takes its partitions."""
    return _steady(env, env.dep.processors[0].kill9, 1.0, None)


def kill_stream_leader(env: Env) -> dict[str, Any]:
    """kill -9 of the JetStream node leading the intake stream; started again 10 s later."""
    nats = env.dep.nats
    killed: dict[str, int] = {}

    def fault() -> None:
        leader = nats.stream_leader(STREAM)
        killed["node"] = 0 if leader is None else leader
        nats.kill9(killed["node"])

    def heal() -> None:
        nats.start_node(killed["node"])

    result = _steady(env, fault, 10.0, heal)
    result["node"] = f"n{killed.get('node', 0) + 1}"
    return result


def pg_stop(env: Env) -> dict[str, Any]:
    """PostgreSQL stopped hard (`pg_ctl stop -m immediate`) for 10 s, then started."""
    return _steady(env, env.pg.stop_hard, 10.0, env.pg.start)


def stream_full(env: Env) -> dict[str, Any]:
    """Processors stopped (SIGTERM) under traffic until the intake stream's size limit is
    reached (1 MiB here, `cluster.max_stream_bytes`): collectors answer `503`; 2 s later the
    processors are started again and traffic goes on for 5 s. Accepting again: seconds from
    the processors' restart to the first `200` (none: the stream stays full)."""
    dep = env.dep
    for p in dep.processors:
        p.stop()
    traffic = Traffic(dep).start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with traffic.lock:
            if any(status == 503 for _, _, status in traffic.timings):
                break
        time.sleep(0.2)
    start = time.monotonic()
    time.sleep(2.0)
    restarted = time.monotonic()
    for i in range(len(dep.processors)):
        dep.processors[i] = dep.processor(i)
        dep.processors[i].start()
    time.sleep(5.0)
    traffic.stop()
    result = judge(dep.db_url, traffic, time.monotonic())
    result["in_stream"] = stream_waiting(dep.nats.urls)
    result["worst_s"] = round(traffic.worst(start, restarted), 2)
    with traffic.lock:
        after = [s + t for s, t, status in traffic.timings if status == 200 and s >= restarted]
    result["accepting_again_s"] = round(min(after) - restarted, 1) if after else None
    return result


SETTINGS = {"stream-full": {"SHOPEVENTS_CLUSTER_MAX_STREAM_BYTES": str(1 << 20)}}
SCENARIOS: dict[str, Callable[[Env], dict[str, Any]]] = {
    "kill-collector": kill_collector,
    "kill-processor": kill_processor,
    "kill-stream-leader": kill_stream_leader,
    "pg-stop": pg_stop,
    "stream-full": stream_full,
}
COLUMNS = ["requests", "acknowledged", "stored", "lost", "duplicated", "purchases",
           "purchases_stored", "accepted_twice", "buyers", "aggregate_mismatch", "in_stream", "5xx", "visit_5xx", "worst_s", "accepting_again_s",
           "caught_up_s"]  # fmt: skip


def render(rows: list[tuple[str, dict[str, Any]]]) -> str:
    head = "| fault | " + " | ".join(c.replace("_", " ") for c in COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(COLUMNS)]
    for name, r in rows:
        cells = ["–" if r.get(c) is None else str(r[c]) for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = []
    for name, r in rows:
        for key in ("lost", "duplicated", "accepted_twice", "aggregate_mismatch"):
            if r.get(key):
                out.append(f"{name}: {key} = {r[key]}")
        if r.get("error"):
            out.append(f"{name}: {r['error']}")
        elif r.get("caught_up_s") is None:
            out.append(f"{name}: processing did not catch up within {DRAIN_TIMEOUT:.0f} s")
        if name == "stream-full" and r.get("accepting_again_s") is None and not r.get("error"):
            out.append(f"{name}: collectors still refuse after the processors started again")
        if name == "stream-full" and not r.get("5xx") and not r.get("error"):
            out.append(f"{name}: the stream never filled (no 503)")
        if r.get("purchases") != r.get("purchases_stored"):
            out.append(f"{name}: {r.get('purchases')} purchases acknowledged, "
                       f"{r.get('purchases_stored')} in the ledger")  # fmt: skip
    return out


def run(names: list[str] | None) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    for name, fn in SCENARIOS.items():
        if names and name not in names:
            continue
        print(f"{name} (cluster) …", flush=True)
        env = _env(SETTINGS.get(name))
        try:
            env.dep.start()
            rows.append((name, fn(env)))
        except Exception as exc:
            rows.append((name, {"error": f"{type(exc).__name__}: {exc}"}))
        finally:
            env.dep.stop()
            env.pg.close()
            keep = Path(tempfile.gettempdir()) / f"shopevents-cluster-faults-{name}-logs"
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(env.workdir, keep, ignore=shutil.ignore_patterns("n[0-9]"))
            shutil.rmtree(env.workdir, ignore_errors=True)
        print(render(rows[-1:]), flush=True)
        for line in rows[-1][1].get("unledgered", []):
            print(f"  acknowledged, not in the ledger: {line}", flush=True)
    return rows, failures(rows)
