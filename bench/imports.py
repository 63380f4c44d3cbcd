"""python -m bench import: bulk import and export at 100,000 rows, per backend.

For products and contacts, CSV and JSON Lines: a fresh `shopevents serve` per measurement
(so its peak RSS, VmHWM, is that measurement's), `POST /api/imports` of the file (time, peak
RSS), the same file again (every row `unchanged`), and meanwhile a client sending one
page-visit at a time to the ingest endpoint (requests answered, slowest answer: ingest is
not starved by the import). Then `GET /api/exports/contacts` of the 100,000 contacts
(streamed: time, bytes, peak RSS) and `shopevents import` from the CLI (time, peak RSS of the
CLI process).
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.dbs import make_database
from bench.procs import Server, free_port, vm_hwm_kb
from bench.targets import INGEST_PATH, REPO, venv_bin


def write_file(path: Path, kind: str, fmt: str, n: int) -> None:
    with path.open("w", newline="") as fh:
        if kind == "products":
            cols = ["productId", "name", "productDetailUrl", "unitPrice", "availability", "brand", "categories", "imageUrl"]  # fmt: skip
            rows: Any = (
                {
                    "productId": f"SKU-{i}",
                    "name": f"Product {i}",
                    "productDetailUrl": f"https://shop.example/p/{i}",
                    "unitPrice": f"{i % 1000}.99",
                    "availability": "instock",
                    "brand": "Acme",
                    "categories": "/Home|/Home/Lamps",
                    "imageUrl": f"https://shop.example/i/{i}.jpg",
                }
                for i in range(n)
            )
        else:
            cols = ["_email", "_name", "_surname", "_newsletterSubscriptionStatus", "_points", "loyaltyTier"]  # fmt: skip
            rows = (
                {
                    "_email": f"user{i}@example.com",
                    "_name": f"Name{i}",
                    "_surname": "Doe",
                    "_newsletterSubscriptionStatus": "subscribed",
                    "_points": str(i % 500),
                    "loyaltyTier": "gold",
                }
                for i in range(n)
            )
        if fmt == "csv":
            w = csv.DictWriter(fh, cols, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
            return
        for r in rows:
            if kind == "products":
                r = {**r, "unitPrice": float(r["unitPrice"]), "categories": r["categories"].split("|")}  # fmt: skip
            else:
                r = {**r, "_points": int(r["_points"])}
            fh.write(json.dumps(r) + "\n")


class Probe(threading.Thread):
    """One page-visit at a time to the ingest endpoint while an import runs."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failed = 0
        self.slowest = 0.0

    def run(self) -> None:
        body = json.dumps({"events": [{"type": "page-visit"}]})
        with httpx.Client(timeout=30) as c:
            while not self.stop.is_set():
                t = time.perf_counter()
                try:
                    r = c.post(self.url, content=body, headers={"Content-Type": "text/plain"})
                    good = r.status_code == 200
                except httpx.HTTPError:
                    good = False
                self.slowest = max(self.slowest, time.perf_counter() - t)
                self.ok += good
                self.failed += not good
                time.sleep(0.01)


def _cli(url: str, *args: str) -> str:
    out = subprocess.run(
        [venv_bin("shopevents"), "--database", url, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"shopevents {' '.join(args[:2])} failed: {out.stderr.strip()[-2000:]}")
    return out.stdout


def run(backends: list[str], n: int, log: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    files = {}
    for kind in ("products", "contacts"):
        for fmt in ("csv", "jsonl"):
            path = work / f"{kind}.{fmt}"
            write_file(path, kind, fmt, n)
            files[(kind, fmt)] = path
    for backend in backends:
        db = make_database(backend)
        db.create()
        try:
            _cli(db.url, "migrate")

            url = db.url

            def fresh_store(url: str = url) -> tuple[str, dict[str, str]]:
                info = json.loads(
                    _cli(url, "stores", "create", f"bench-{time.time_ns()}", "--json")
                    .strip()
                    .splitlines()[-1]
                )
                auth = f"apiKey {info['apiKeyId']}:{info['apiKeySecret']}"
                return info["storeId"], {"Authorization": auth}

            def serve(url: str = url) -> Server:
                port = free_port()
                argv = [venv_bin("shopevents"), "--database", url, "serve", "--no-worker",
                        "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
                server = Server("shopevents", argv, port, cwd=REPO, log=work / "server.log")
                server.start()
                return server

            last_store = None
            for (kind, fmt), path in files.items():
                store_id, auth = fresh_store()
                server = serve()
                try:
                    base = f"http://127.0.0.1:{server.port}"
                    probe = Probe(base + INGEST_PATH.format(store=store_id))
                    probe.start()
                    rows = []
                    with httpx.Client(base_url=base, timeout=600) as c:
                        for attempt in ("first", "again"):
                            t = time.perf_counter()
                            with path.open("rb") as fh:
                                r = c.post(
                                    f"/api/imports?type={kind}&format={fmt}",
                                    content=fh.read(),
                                    headers=auth,
                                )
                            rows.append((attempt, time.perf_counter() - t, r))
                    probe.stop.set()
                    probe.join()
                    peak = max(vm_hwm_kb(p) for p in server.pids())
                finally:
                    server.stop()
                for attempt, seconds, r in rows:
                    rep = r.json()
                    row = {
                        "backend": backend,
                        "what": f"import {kind} {fmt} ({attempt})",
                        "status": r.status_code,
                        "seconds": round(seconds, 2),
                        "rows_per_s": round(n / seconds),
                        "created": rep.get("created"),
                        "unchanged": rep.get("unchanged"),
                        "server_peak_mb": round(peak / 1024),
                        "ingest_ok": probe.ok,
                        "ingest_failed": probe.failed,
                        "ingest_slowest_ms": round(probe.slowest * 1000),
                    }
                    results.append(row)
                    log(json.dumps(row))
                if kind == "contacts":
                    last_store = (store_id, auth)
            assert last_store is not None
            server = serve()
            try:
                size = 0
                t = time.perf_counter()
                base = f"http://127.0.0.1:{server.port}"
                with (
                    httpx.Client(base_url=base, timeout=600) as c,
                    c.stream("GET", "/api/exports/contacts", headers=last_store[1]) as r,
                ):
                    for chunk in r.iter_bytes():
                        size += len(chunk)
                seconds = time.perf_counter() - t
                peak = max(vm_hwm_kb(p) for p in server.pids())
            finally:
                server.stop()
            row = {"backend": backend, "what": "export contacts jsonl", "seconds": round(seconds, 2),
                   "rows_per_s": round(n / seconds), "bytes": size,
                   "server_peak_mb": round(peak / 1024)}  # fmt: skip
            results.append(row)
            log(json.dumps(row))
            store_id, _ = fresh_store()
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t = time.perf_counter()
            out = _cli(db.url, "import", "products", str(files[("products", "csv")]),
                       "--store", store_id, "--quiet", "--json")  # fmt: skip
            seconds = time.perf_counter() - t
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            rep = json.loads(out.strip().splitlines()[-1])
            row = {"backend": backend, "what": "CLI import products csv", "seconds": round(seconds, 2),
                   "rows_per_s": round(n / seconds), "created": rep["created"],
                   "cli_peak_mb": round(max(peak_kb, before) / 1024)}  # fmt: skip
            results.append(row)
            log(json.dumps(row))
        finally:
            db.drop()
    return results
