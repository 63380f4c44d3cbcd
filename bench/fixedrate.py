"""Open-loop, fixed-rate HTTP/1.1 load generator (asyncio + uvloop, raw sockets).

wrk2 is not packaged for Debian and wrk is closed-loop: a slow answer delays the next
request on its connection, so wrk under-reports latency at a given offered load
("coordinated omission"). This generator sends request *i* at its intended time
`start + i / rate` on the first free keep-alive connection; when every connection is busy
the request waits in a backlog. Its latency is measured from the intended time to the last
byte of the answer, so waiting in the backlog counts, as it would for a real client.

It builds the same bodies as `bench/lua/ingest.lua` (same template, same tokens, same
duplicates), parses every answer and tallies the per-event `results[].status`.

Run by the harness; by hand:
    python -m bench.fixedrate --port 8000 --template bench/payloads/page-visit.json \
        --path /integration-type/system/scrippet-notification/STORE --rate 5000 --duration 10
It prints one line `BENCHJSON {...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import time
from array import array
from pathlib import Path

import msgspec

MAX_BACKLOG_SECONDS = 2.0
"""A backlog longer than this many seconds of offered load stops adding requests."""

EVENTS_PER_OK = int(os.environ.get("BENCH_EVENTS_PER_OK", "0") or 0)
""">0: answers carry no results[] (Segment's); each 2xx acknowledges this many events."""


class _Result(msgspec.Struct):
    status: str = ""


class _Answer(msgspec.Struct):
    results: list[_Result] = []


_decode_answer = msgspec.json.Decoder(_Answer).decode


class BodyMaker:
    """Builds request bodies exactly like bench/lua/ingest.lua."""

    def __init__(self, template: str, prefix: str, dup_every: int = 0, dup_back: int = 7):
        self.frags = template.rstrip().split("{{T}}")
        self.prefix = prefix
        self.dup_every = dup_every
        self.dup_back = dup_back

    def token(self, n: int) -> str:
        k = n
        if self.dup_every > 0 and n % self.dup_every == self.dup_every - 1 and n >= self.dup_back:
            k = n - self.dup_back
        return f"{self.prefix}{k:012x}"

    def body(self, n: int) -> bytes:
        return self.token(n).join(self.frags).encode()


class Stats:
    def __init__(self) -> None:
        self.latency = array("d")  # from intended send time, seconds
        self.service = array("d")  # from actual send time, seconds
        self.ok2xx = 0
        self.other_status = 0
        self.statuses: collections.Counter[str] = collections.Counter()
        self.errors = 0
        self.unparsed = 0
        self.sent = 0


class Conn(asyncio.Protocol):
    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.busy: tuple[float, float] | None = None  # (intended, sent)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None
        if self.busy is not None:
            self.gen.stats.errors += 1
            self.busy = None
            self.gen.inflight -= 1
        if not self.closed.done():
            self.closed.set_result(None)
        self.gen.conn_lost(self)

    def send(self, data: bytes, intended: float) -> None:
        assert self.transport is not None
        self.busy = (intended, time.perf_counter())
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.busy is not None:
            done = self._parse()
            if done is None:
                return
            status, body = done
            self._complete(status, body)

    def _parse(self) -> tuple[int, bytes] | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lname = name.strip().lower()
            if lname == "content-length":
                length = int(value.strip())
            elif lname == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        start = end + 4
        if status in (204, 304) or (100 <= status < 200):
            del buf[:start]
            return status, b""
        if not chunked:
            if len(buf) < start + length:
                return None
            body = bytes(buf[start : start + length])
            del buf[: start + length]
            return status, body
        # chunked transfer encoding
        pos = start
        out = bytearray()
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    if len(buf) >= line_end + 4 and buf[line_end : line_end + 4] == b"\r\n\r\n":
                        trailer_end = line_end
                    else:
                        return None
                del buf[: trailer_end + 4]
                return status, bytes(out)
            if len(buf) < line_end + 2 + size + 2:
                return None
            out += buf[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2

    def _complete(self, status: int, body: bytes) -> None:
        assert self.busy is not None
        intended, sent = self.busy
        self.busy = None
        now = time.perf_counter()
        stats = self.gen.stats
        stats.latency.append(now - intended)
        stats.service.append(now - sent)
        if 200 <= status < 300:
            stats.ok2xx += 1
        else:
            stats.other_status += 1
        if EVENTS_PER_OK and 200 <= status < 300:
            stats.statuses["accepted"] += EVENTS_PER_OK
        elif body:
            try:
                answer = _decode_answer(body)
                for r in answer.results:
                    stats.statuses[r.status] += 1
            except msgspec.DecodeError:
                stats.unparsed += 1
        self.gen.inflight -= 1
        self.gen.release(self)


class Generator:
    def __init__(self, host, port, path, maker: BodyMaker, rate, duration, connections, ctype):
        self.host = host
        self.port = port
        self.maker = maker
        self.rate = rate
        self.duration = duration
        self.nconn = connections
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: "
        ).encode()
        self.stats = Stats()
        self.free: list[Conn] = []
        self.backlog: collections.deque[tuple[int, float]] = collections.deque()
        self.inflight = 0
        self.stopping = False
        self.unsent = 0
        self.dropped = 0
        self.tasks: set[asyncio.Task] = set()

    def request_bytes(self, n: int) -> bytes:
        body = self.maker.body(n)
        return self.head + str(len(body)).encode() + b"\r\n\r\n" + body

    def release(self, conn: Conn) -> None:
        if self.backlog and not self.stopping:
            n, intended = self.backlog.popleft()
            self.inflight += 1
            self.stats.sent += 1
            conn.send(self.request_bytes(n), intended)
        else:
            self.free.append(conn)

    def conn_lost(self, conn: Conn) -> None:
        if conn in self.free:
            self.free.remove(conn)
        if not self.stopping:
            self._spawn()

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self._open())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: Conn(self), self.host, self.port)
        except OSError:
            self.stats.errors += 1
            await asyncio.sleep(0.05)
            if not self.stopping:
                self._spawn()
            return
        self.release(conn)

    async def run(self) -> dict:
        loop = asyncio.get_running_loop()
        for _ in range(self.nconn):
            _, conn = await loop.create_connection(lambda: Conn(self), self.host, self.port)
            self.free.append(conn)
        rate = self.rate
        max_backlog = int(rate * MAX_BACKLOG_SECONDS)
        t0 = time.perf_counter()
        end = t0 + self.duration
        i = 0
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            due = int((now - t0) * rate) + 1
            while i < due:
                intended = t0 + i / rate
                if len(self.backlog) < max_backlog:
                    self.backlog.append((i, intended))
                else:
                    self.dropped += 1
                i += 1
            while self.backlog and self.free:
                conn = self.free.pop()
                n, intended = self.backlog.popleft()
                self.inflight += 1
                self.stats.sent += 1
                conn.send(self.request_bytes(n), intended)
            wait = t0 + i / rate - time.perf_counter()
            # uvloop timers have 1 ms resolution: sleep coarsely, then spin on the loop
            await asyncio.sleep(wait - 0.0015 if wait > 0.002 else 0)
        elapsed = time.perf_counter() - t0
        self.stopping = True
        self.unsent = len(self.backlog)
        self.backlog.clear()
        grace = time.perf_counter() + 10.0
        while self.inflight > 0 and time.perf_counter() < grace:
            await asyncio.sleep(0.005)
        lost_inflight = self.inflight
        for conn in list(self.free):
            if conn.transport is not None:
                conn.transport.close()
        return self._summary(elapsed, i, lost_inflight)

    def _summary(self, elapsed: float, scheduled: int, lost_inflight: int) -> dict:
        st = self.stats
        lat = sorted(st.latency)
        svc = sorted(st.service)

        def pct(values, p):
            if not values:
                return None
            k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
            return round(values[k] * 1e6)

        completed = len(lat)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "generator": "fixedrate",
            "rate": self.rate,
            "connections": self.nconn,
            "duration_s": elapsed,
            "scheduled": scheduled,
            "sent": st.sent,
            "requests": completed,
            "achieved_rps": completed / elapsed if elapsed else 0,
            "unsent": self.unsent,
            "dropped": self.dropped,
            "lost_inflight": lost_inflight,
            "ok2xx": st.ok2xx,
            "other_status": st.other_status,
            "errors": st.errors,
            "unparsed": st.unparsed,
            "events": dict(st.statuses),
            "latency_us": {p: pct(lat, q) for p, q in _PCTS},
            "service_us": {p: pct(svc, q) for p, q in _PCTS},
            "cpu_s": ru.ru_utime + ru.ru_stime,
        }


_PCTS = [("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9), ("max", 100)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.fixedrate", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("--template", required=True)
    ap.add_argument("--prefix", default="f000000000")
    ap.add_argument("--dup-every", type=int, default=0)
    ap.add_argument("--dup-back", type=int, default=7)
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--content-type", default="text/plain")
    a = ap.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the bench only targets loopback")
    if not 0 < a.duration <= 600:
        raise SystemExit("--duration must be in (0, 600] seconds")
    template = Path(a.template).read_text()
    maker = BodyMaker(template, a.prefix + "f0", a.dup_every, a.dup_back)
    gen = Generator(
        a.host, a.port, a.path, maker, a.rate, a.duration, a.connections, a.content_type
    )
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(gen.run())
    print("BENCHJSON " + json.dumps(result), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
