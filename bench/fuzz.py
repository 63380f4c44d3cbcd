"""python -m bench fuzz: hostile bodies against a real server per backend.

Starts `shopevents serve` on a fresh database per backend (pinned to the server core, as
`bench run` does), then sends `--count` hostile bodies (100,000 by default), mixed over the
ingest endpoint and every REST write endpoint: random JSON, the number space (exponents,
digit counts, signs, `-0`, subnormals, NaN/Infinity literals, huge exponents of both signs,
5,000-digit integers and fractions) in every numeric field, deep nesting, long strings, wrong
types, invalid UTF-8, gzip bombs and broken gzip, random bytes, purchases past the line
limit. Bounded in time (`--time-limit` per backend). Prints per backend: requests, statuses
by class, 5xx count, peak RSS of the server; exits non-zero on any 5xx (or a server that
stopped answering).

`--big-rest` measures instead sixteen concurrent 5.2 MB purchases (52,000 lines each) through
`POST /api/purchases/` with page visits sent alongside: the server's peak RSS and the page
visits' latency (`--server-env` passes settings, `PYTHONPATH=DIR` another source tree).
"""

from __future__ import annotations

import gzip
import http.client
import json
import math
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import LOADGEN_CORE, cpu_count
from bench.targets import ShopeventsTarget

# --- the number space -------------------------------------------------------------------------

FIXED_NUMBERS = [
    "0",
    "-0",
    "-0.0",
    "0e0",
    "1.5",
    "-1",
    "3.0",
    "1E+2",
    "4.9e-324",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "1e309",
    "-1e309",
    "1e999999",
    "1e1000000",
    "1e-1000000",
    "1e9999999999999999999",
    "-1e9999999999999999999",
    "1e-9999999999999999999",
    "18446744073709551616",
    "9" * 4300,
    "9" * 4301,
    "9" * 5000,
    "-" + "9" * 5000,
    "0." + "1" * 5000,
    "1." + "0" * 5000,
    "NaN",
    "Infinity",
    "-Infinity",
    '"1e9999999999999999999"',
    '"' + "9" * 5000 + '"',
    '"-0"',
    '"NaN"',
]


def _digits(rng: random.Random, most: int) -> str:
    n = int(10 ** rng.uniform(0, math.log10(most)))
    first = str(rng.randint(1, 9))
    return first + "".join(rng.choices("0123456789", k=n - 1))


def number_literal(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(FIXED_NUMBERS)
    text = rng.choice(["", "-"]) + (_digits(rng, 6000) if rng.random() < 0.8 else "0")
    if rng.random() < 0.5:
        text += "." + _digits(rng, 6000)[::-1]
    if rng.random() < 0.5:
        exp = rng.choice([rng.randint(0, 400), rng.randint(999_990, 1_000_010), 10**20])
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(exp)
    if rng.random() < 0.05:
        text = f'"{text}"'
    return text


# --- bodies -------------------------------------------------------------------------------------

LINE = {
    "productId": "SKU-1",
    "name": "Lamp",
    "productDetailUrl": "https://shop.example/p/1",
    "unitPrice": 10,
    "quantity": 1,
    "price": 10,
    "rating": 4,
    "reviewCount": 3,
    "ratingCount": 3,
    "priority": 1,
    "unitPriceOriginal": 12,
    "unitPriceWithoutVAT": 8,
    "discountedAmount": 2,
    "discountedPercentage": 10,
    "inStockUnits": 5,
}
PRODUCT = {k: v for k, v in LINE.items() if k not in ("quantity", "price")}


def purchase(rng: random.Random) -> dict[str, Any]:
    return {
        "purchaseId": f"P-{rng.randint(0, 10**6)}",
        "totalQuantity": 1,
        "totalPrice": 10,
        "products": [dict(LINE)],
        "paymentMethod": "card",
    }


def envelope(rng: random.Random) -> dict[str, Any]:
    events: list[dict[str, Any]] = [{"type": "page-visit"}]
    kinds = ["purchase", "product-visited", "product-searched", "custom", "form-submitted"]
    for kind in rng.sample(kinds, rng.randint(1, 3)):
        if kind == "purchase":
            events.append({"type": kind, "purchase": purchase(rng)})
        elif kind.startswith("product"):
            events.append({"type": kind, "product": dict(PRODUCT)})
        else:
            events.append(
                {"type": kind, "eventId": "e", "formId": "f", "payload": {"n": 1, "l": [1, 2]}}
            )
    return {
        "events": events,
        "cart": {"cartId": "c-1", "totalQuantity": 1, "totalPrice": 10, "products": [dict(LINE)]},
        "entityInfo": {"primaryKey": f"u{rng.randint(0, 999)}@example.com", "_points": 1, "n": 2},
    }


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    if prefix:
        out.append(prefix)
    return out


def _numeric_paths(value: Any) -> list[tuple[Any, ...]]:
    out = []
    for p in _paths(value):
        cur = value
        for s in p:
            cur = cur[s]
        if isinstance(cur, int | float) and not isinstance(cur, bool):
            out.append(p)
    return out


def _put(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    cur = obj
    for s in path[:-1]:
        cur = cur[s]
    cur[path[-1]] = value
    return obj


def random_json(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice(
            [None, True, False, 0, -1, 1.5, "", "x", "\u0000", "é€😀", 2**70, "9" * 30, []]
        )
    if r < 0.7:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["type", "events", "purchase", "products", "totalPrice", "cart", "x", "", "_points"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _encode(obj: Any, literal: str | None = None) -> bytes:
    text = json.dumps(obj)
    if literal is not None:
        text = text.replace('"@NUM@"', literal, 1)
    return text.encode()


class Bodies:
    """Hostile bodies for each endpoint; `make(endpoint, rng)` gives (kind, body, headers)."""

    def __init__(self) -> None:
        big = b'{"events":[{"type":"custom","eventId":"e","payload":{"s":"' + b"a" * (64 << 20)
        self.bomb = gzip.compress(big + b'"}}]}', 9)  # 64 MB decompressed, ~64 KB sent
        lines = [dict(LINE, productId=f"SKU-{i}") for i in range(1500)]
        self.many_lines = {"purchaseId": "P-many", "totalQuantity": 1500, "totalPrice": 15000}
        self.many_lines["products"] = lines  # type: ignore[assignment]

    def base(self, endpoint: str, rng: random.Random) -> Any:
        if endpoint == "ingest":
            return envelope(rng)
        if endpoint == "purchases":
            return purchase(rng)
        if endpoint == "contacts":
            return {"_name": "Ana", "_points": 3, "tier": 2, "list": [1, 2]}
        if endpoint == "products":
            return dict(PRODUCT)
        if endpoint == "store":
            return rng.choice(
                [{"abandonAfterSeconds": 1800}, {"name": "fuzz"}, {"currency": "EUR"}]
            )
        if endpoint == "webhooks":
            return {"url": "https://hooks.example/x", "topics": ["cart.abandoned"], "n": 1}
        return {}

    def make(self, endpoint: str, rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
        kind = rng.choices(
            [
                "numbers",
                "random_json",
                "wrong_types",
                "deep",
                "long_string",
                "invalid_utf8",
                "gzip_bomb",
                "gzip_broken",
                "random_bytes",
                "many_lines",
                "plain",
            ],
            weights=[40, 12, 12, 6, 6, 6, 2, 3, 5, 2, 6],
        )[0]
        base = self.base(endpoint, rng)
        headers: dict[str, str] = {}
        paths = _paths(base) or [("x",)]
        if kind == "numbers":
            numeric = _numeric_paths(base) or [("abandonAfterSeconds",), ("n",)]
            body = _encode(_put(base, rng.choice(numeric), "@NUM@"), number_literal(rng))
        elif kind == "random_json":
            body = _encode(random_json(rng))
        elif kind == "wrong_types":
            path = rng.choice(paths)
            body = _encode(_put(base, path, random_json(rng)))
        elif kind == "deep":
            n = int(10 ** rng.uniform(1, 5.3))
            nest = rng.choice(["[", '{"a":'])
            close = "]" if nest == "[" else "}"
            path = rng.choice(paths)
            text = _encode(_put(base, path, "@NUM@")).decode()
            body = text.replace('"@NUM@"', nest * n + "1" + close * n, 1).encode()
        elif kind == "long_string":
            path = rng.choice(paths)
            size = int(10 ** rng.uniform(3, 6.3))
            body = _encode(_put(base, path, rng.choice("x€\u0000") * size))
        elif kind == "invalid_utf8":
            raw = bytearray(_encode(base))
            for _ in range(rng.randint(1, 4)):
                raw.insert(rng.randrange(len(raw) + 1), rng.randint(0x80, 0xFF))
            body = bytes(raw)
        elif kind == "gzip_bomb":
            body, headers = self.bomb, {"Content-Encoding": "gzip"}
        elif kind == "gzip_broken":
            packed = gzip.compress(_encode(base))
            body = rng.choice([packed[: len(packed) // 2], b"\x1f\x8b\x08\x00" + packed[20:]])
            headers = {"Content-Encoding": rng.choice(["gzip", "x-gzip", "br"])}
        elif kind == "random_bytes":
            body = rng.randbytes(rng.randint(0, 2000))
        elif kind == "many_lines":
            body = _encode(self.many_lines if endpoint != "ingest" else {"cart": self.many_lines})
        else:
            body = _encode(base)
        return kind, body, headers


# --- the run -------------------------------------------------------------------------------------

ENDPOINTS = [  # (name, weight)
    ("ingest", 45),
    ("purchases", 15),
    ("contacts", 10),
    ("products", 10),
    ("store", 6),
    ("webhooks", 6),
    ("merge_undo", 4),
    ("webhook_replay", 4),
]


class FuzzTarget(ShopeventsTarget):
    """shopevents on a fresh database, with a store and its API key."""

    def prepare(self, logdir: Path) -> str:
        from bench.dbs import make_database

        self.db = make_database(self.backend)
        self.db.create()
        self.cli("migrate")
        info = json.loads(self.cli("stores", "create", "fuzz", "--json").strip().splitlines()[-1])
        self.store_id = info["storeId"]
        self.auth = f"apiKey {info['apiKeyId']}:{info['apiKeySecret']}"
        return f"/integration-type/system/scrippet-notification/{self.store_id}"


def _request(
    endpoint: str, rng: random.Random, target: FuzzTarget, ingest: str
) -> tuple[str, str, dict[str, str]]:
    auth = {"Authorization": target.auth}
    if endpoint == "ingest":
        return "POST", ingest, {"Content-Type": "text/plain"}
    if endpoint == "purchases":
        return "POST", "/api/purchases/", auth
    if endpoint == "contacts":
        email = rng.choice(["ana@example.com", "b%00@example.com", "x"])
        return "PATCH", f"/api/contacts/{email}", auth
    if endpoint == "products":
        return "PATCH", f"/api/products/product-id/SKU-{rng.randint(0, 50)}", auth
    if endpoint == "store":
        return "PATCH", "/api/store", auth
    if endpoint == "webhooks":
        return "POST", "/api/webhooks", auth
    if endpoint == "merge_undo":
        mid = rng.choice(["1", "99999999999999999999", "-1", "x"])
        return "POST", f"/api/merges/{mid}/undo", auth
    return "POST", f"/api/webhooks/deliveries/{rng.randint(0, 5)}/replay", auth


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    answer: list[bytes] | None = None,
) -> int:
    """The answer's status; 0 if the connection was closed before one. A server that answers
    (say `413`) before it has read the whole body may close while the body is still being
    sent: its answer is then read after the failed send."""
    try:
        conn.request(method, path, body=body, headers=headers)
    except OSError:
        pass
    try:
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException):
        return 0
    if answer is not None:
        answer.append(data[:300])
    if resp.getheader("connection", "").lower() == "close":
        conn.close()
    return resp.status


def fuzz_backend(
    backend: str, count: int, concurrency: int, time_limit: float, seed: int, logdir: Path, log
) -> dict[str, Any]:
    target = FuzzTarget(backend, env={"SHOPEVENTS_WORKER_ENABLED": "false"})
    ingest = target.prepare(logdir)
    server = target.server(logdir)
    bodies = Bodies()
    statuses: Counter[int] = Counter()
    kinds_5xx: list[str] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    next_index = iter(range(count))
    started = time.monotonic()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while time.monotonic() - started < time_limit:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            rng = random.Random(seed * 1_000_003 + i)
            endpoint = rng.choices([e for e, _ in ENDPOINTS], [w for _, w in ENDPOINTS])[0]
            try:
                kind, body, extra = bodies.make(endpoint, rng)
            except Exception as exc:  # a fault of this generator, not of the server
                with lock:
                    errors[f"generator {type(exc).__name__}: {exc}"] += 1
                continue
            method, path, headers = _request(endpoint, rng, target, ingest)
            answer: list[bytes] = []
            status = _send(conn, method, path, body, {**headers, **extra}, answer)
            if status <= 0:  # the server closed the connection without an answer
                conn.close()
                with lock:
                    errors["closed before an answer"] += 1
            with lock:
                statuses[status] += 1
                if status >= 500:
                    got = answer[0] if answer else b""
                    kinds_5xx.append(
                        f"{status} {method} {endpoint}/{kind}: {got!r} <- {body[:120]!r}"
                    )
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    try:
        server.start()
        log(f"{backend}: server on port {server.port}, sending {count} bodies")
        started = time.monotonic()
        for t in threads:
            t.start()
        last = time.monotonic()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() - last > 15:
                last = time.monotonic()
                with lock:
                    done = sum(statuses.values())
                log(f"{backend}: {done} requests, {time.monotonic() - started:.0f} s")
        for t in threads:
            t.join()
        alive = server.proc is not None and server.proc.poll() is None
        try:
            c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            c.request("GET", "/healthz")
            healthy = c.getresponse().status == 200
            c.close()
        except OSError:
            healthy = False
        server.snapshot()
    finally:
        server.stop()
        target.cleanup()
    elapsed = time.monotonic() - started
    classes = Counter(f"{s // 100}xx" if s else "closed" for s in statuses.elements())
    return {
        "backend": backend,
        "requests": sum(statuses.values()),
        "seconds": round(elapsed, 1),
        "classes": dict(classes),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "5xx": sum(v for k, v in statuses.items() if k >= 500),
        "peak_rss_mb": round(server.peak_kb / 1024, 1),
        "server_alive": alive and healthy,
        "samples_5xx": kinds_5xx[:20],
        "connection_errors": dict(errors),
    }


def render(results: list[dict[str, Any]]) -> str:
    head = (
        "| Backend | Requests | Time | 2xx | 3xx | 4xx | 5xx | closed | Peak RSS | 4xx by status |"
    )
    rows = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["classes"]
        by4 = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items() if k.startswith("4"))
        rows.append(
            f"| {r['backend']} | {r['requests']:,} | {r['seconds']:.0f} s | {c.get('2xx', 0):,} "
            f"| {c.get('3xx', 0):,} | {c.get('4xx', 0):,} | {r['5xx']:,} | {c.get('closed', 0):,} "
            f"| {r['peak_rss_mb']:.0f} MB | {by4} |"
        )
    return "\n".join(rows)


def _pin_loadgen() -> None:
    if cpu_count() > LOADGEN_CORE:
        try:
            os.sched_setaffinity(0, {LOADGEN_CORE})
        except OSError:
            pass


def run(
    backends: list[str],
    count: int,
    concurrency: int,
    time_limit: float,
    seed: int,
    logdir: Path,
    log: Callable[[str], None] = print,
) -> int:
    _pin_loadgen()
    results = []
    for backend in backends:
        res = fuzz_backend(backend, count, concurrency, time_limit, seed, logdir, log)
        results.append(res)
        log(json.dumps(res, indent=1))
    log("\n" + render(results))
    bad = [
        r
        for r in results
        if r["5xx"]
        or not r["server_alive"]
        or any(e.startswith("generator") for e in r["connection_errors"])
    ]
    for r in bad:
        log(f"{r['backend']}: {r['5xx']} answers 5xx; server alive: {r['server_alive']}")
        for s in r["samples_5xx"]:
            log("  " + s)
    return 1 if bad else 0


# --- sixteen concurrent big purchases ---------------------------------------------------------


def big_purchase(lines: int, size: int = 5_200_000) -> bytes:
    """A purchase of `lines` lines, padded to about `size` bytes (under the 5 MiB limit the
    REST API had before `ingest.api_max_body_bytes`)."""
    line = '{"productId":"%05d","name":"%s","productDetailUrl":"/%05d",'
    line += '"unitPrice":2,"quantity":1,"price":2}'
    pad = max(1, (size - lines * (len(line % (0, "", 0)) + 1)) // lines)
    items = ",".join(line % (i, "n" * pad, i) for i in range(lines))
    head = '{"purchaseId":"BIG-%s","totalQuantity":%d,"totalPrice":%d,"products":['
    return (head % (uuid.uuid4().hex, lines, 2 * lines) + items + "]}").encode()


class _BigRest:
    """Sixteen senders of one big purchase each, and page visits alongside."""

    def __init__(self, port: int, auth: str, ingest: str) -> None:
        self.port, self.auth, self.ingest = port, auth, ingest
        self.answers: list[int] = []
        self.latencies: list[float] = []
        self.done = threading.Event()

    def send(self, body: bytes) -> None:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            headers = {"Authorization": self.auth}
            self.answers.append(_send(c, "POST", "/api/purchases/", body, headers))
        finally:
            c.close()

    def visits(self) -> None:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = b'{"events":[{"type":"page-visit"}]}'
        while not self.done.is_set():
            t0 = time.perf_counter()
            c.request("POST", self.ingest, body=body, headers={"Content-Type": "text/plain"})
            c.getresponse().read()
            self.latencies.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.05)
        c.close()


def run_big_rest(
    backends: list[str],
    server_env: dict[str, str],
    logdir: Path,
    senders: int = 16,
    lines: int = 52_000,
    log: Callable[[str], None] = print,
) -> int:
    _pin_loadgen()
    results = []
    for backend in backends:
        target = FuzzTarget(backend, env={"SHOPEVENTS_WORKER_ENABLED": "false", **server_env})
        ingest = target.prepare(logdir)
        server = target.server(logdir)
        try:
            server.start()
            server.snapshot()
            base_kb = server.peak_kb
            bodies = [big_purchase(lines) for _ in range(senders)]
            run = _BigRest(server.port, target.auth, ingest)
            watcher = threading.Thread(target=run.visits)
            watcher.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            threads = [threading.Thread(target=run.send, args=(b,)) for b in bodies]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - t0
            time.sleep(0.5)
            run.done.set()
            watcher.join()
            server.snapshot()
            res = {
                "backend": backend,
                "server_env": server_env,
                "body_mb": round(len(bodies[0]) / 1e6, 2),
                "answers": dict(Counter(run.answers)),
                "wall_s": round(wall, 2),
                "rss_at_start_mb": round(base_kb / 1024),
                "peak_rss_mb": round(server.peak_kb / 1024),
                "page_visits": len(run.latencies),
                "page_visit_median_ms": round(statistics.median(run.latencies), 1),
                "page_visit_max_ms": round(max(run.latencies), 1),
            }
            results.append(res)
            log(json.dumps(res))
        finally:
            server.stop()
            target.cleanup()
    return 0 if all(0 not in r["answers"] for r in results) else 1
