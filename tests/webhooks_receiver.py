"""A real webhook receiver for tests: a threaded HTTP server on 127.0.0.1 and a free port that
checks every signature with the documented Python example and can be told to fail N times,
answer a given status (with headers), hang, or redirect."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "verify_webhook", ROOT / "docs" / "examples" / "verify_webhook.py"
)
assert _spec is not None and _spec.loader is not None
verify_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify_example)


class Received:
    def __init__(self, path: str, headers: dict[str, str], body: bytes, valid: bool) -> None:
        self.path = path
        self.headers = headers
        self.body = body
        self.valid = valid
        self.arrived = time.monotonic()

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return str(self.json["id"])


class Receiver:
    """Behaviour, checked in this order for each request:
    `hang` (hold the request until released or `hang_seconds`), then `fail_times` answers of
    `fail_status` (with `fail_headers`), then `status` (with `headers`)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.secret = ""
        self.now = now
        self.received: list[Received] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.reply = b'{"ok":true}'
        self.fail_times = 0
        self.fail_status = 500
        self.fail_headers: dict[str, str] = {}
        self.hang = False
        self.hang_seconds = 30.0
        self.delay = 0.0
        self.active = 0
        self.max_active = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        valid = bool(self.secret) and verify_example.verify_webhook(
            self.secret, headers.get("shopevents-signature", ""), body, self.now()
        )
        with self.lock:
            self.received.append(Received(handler.path, headers, body, valid))
            failing = self.fail_times > 0
            if failing:
                self.fail_times -= 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.respond(handler, failing, valid)
        finally:
            with self.lock:
                self.active -= 1

    def respond(self, handler: BaseHTTPRequestHandler, failing: bool, valid: bool) -> None:
        if self.delay:
            time.sleep(self.delay)
        if self.hang:
            self.release.wait(self.hang_seconds)
            self.answer(handler, 503, {}, b'{"error":"released"}')
            return
        if failing:
            self.answer(handler, self.fail_status, self.fail_headers, b'{"error":"try later"}')
        elif not valid:
            self.answer(handler, 400, {}, b'{"error":"bad signature"}')
        else:
            self.answer(handler, self.status, self.headers, self.reply)

    @staticmethod
    def answer(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        try:
            handler.send_response(status)
            for k, v in headers.items():
                handler.send_header(k, v)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            raise AssertionError(f"expected {count} requests, got {len(self.received)}")


class Kit:
    """One store on a migrated database, a fixed clock, webhook settings that allow the local
    receivers, and short verbs for the tests."""

    def __init__(self, db: Any, store_id: str, clock: Any, settings: Any) -> None:
        self.db = db
        self.store_id = store_id
        self.clock = clock
        self.settings = settings
        self.conn = db.connect()
        self.receivers: list[Receiver] = []

    def now(self) -> int:
        from shopevents.clock import to_micros

        return int(to_micros(self.clock.now()))

    def receiver(self) -> Receiver:
        rec = Receiver(now=lambda: self.clock.now().timestamp()).start()
        self.receivers.append(rec)
        return rec

    def endpoint(self, url: str | Receiver, topics: list[str], store_id: str | None = None) -> str:
        from shopevents.webhooks import endpoints

        target = url.url if isinstance(url, Receiver) else url
        with self.conn.transaction():
            ep, secret = endpoints.create_endpoint(
                self.conn,
                store_id or self.store_id,
                target,
                topics,
                self.now(),
                allow_private=True,
            )
        if isinstance(url, Receiver):
            url.secret = secret
        return ep.id

    def emit(self, topic: str, data: dict[str, Any], store_id: str | None = None) -> None:
        from shopevents.domain import outbox

        with self.conn.transaction():
            outbox.emit(self.conn, store_id or self.store_id, topic, self.now(), data)

    def run(self, **kw: Any) -> int:
        from shopevents.webhooks.worker import deliver_due

        return deliver_due(self.conn, self.clock, self.settings, **kw)

    def deliveries(self, **kw: Any) -> list[dict[str, Any]]:
        from shopevents.webhooks import delivery_log

        return delivery_log.list_deliveries(self.conn, self.store_id, now=self.now(), **kw)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        from shopevents.webhooks import delivery_log

        found = delivery_log.get_delivery(self.conn, delivery_id, now=self.now())
        assert found is not None, delivery_id
        return found

    def close(self) -> None:
        for rec in self.receivers:
            rec.stop()
        self.conn.close()
