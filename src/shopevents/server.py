"""How the HTTP server is run: the one uvicorn configuration `shopevents serve` and the test
servers use, and the connection guard it installs.

uvicorn closes an idle kept-alive connection after its keep-alive timeout, but it waits for
a request head, and for a request body, as long as the client likes, and it accepts
connections until the process runs out of file descriptors, after which it can accept no
one. `GuardedHttpToolsProtocol` (uvicorn's httptools protocol, extended) adds:

- a **header timeout**: a connection must complete its request head within
  `http.header_timeout_seconds` of connecting (or, on a kept-alive connection, of the next
  request's first byte); otherwise it is closed (with `408 request_timeout` if it had begun);
- a **body timeout**: once its head is in, a request must deliver its whole body within
  `http.body_timeout_seconds`; otherwise it gets `408 request_timeout` (if no answer has
  begun) and the connection is closed, and the handler reading the body sees the client gone;
- a **connection cap** (`http.max_connections`, kept below the open-file limit, which is
  raised to its hard limit at start): a connection that would go over it makes room by
  closing the oldest connection that is only *waiting* (idle between requests, still
  sending a head, or still sending a body). Requests being answered are never cut. When
  every connection is being answered, the newcomer gets `503 too_many_connections` with
  `Retry-After` and `Connection: close` as soon as its head is in; past a small reserve
  above the cap, it is closed at once.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import resource
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import uvicorn
import uvicorn.config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shopevents.clock import SystemClock, to_micros
from shopevents.config import HttpSettings, Settings
from shopevents.errors import ApiError
from shopevents.ids import new_id
from shopevents.ingest import tracker
from shopevents.ingest.routes import INGEST_PREFIX
from shopevents.jsoncodec import dumpb

log = logging.getLogger("shopevents")

FD_RESERVE = 128
"""File descriptors kept back from the automatic connection cap (database, logs, webhooks)."""
OVER_CAP_ANSWERS = 64
"""Connections past the cap that may still be answered `503` before new ones are just closed."""


def raise_fd_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def connection_cap(http: HttpSettings, fd_limit: int) -> int:
    """The cap in force: the setting, but never closer than `FD_RESERVE` to the fd limit."""
    ceiling = max(fd_limit - FD_RESERVE, 16)
    if http.max_connections <= 0:
        return ceiling
    if http.max_connections > ceiling:
        log.warning(
            "http.max_connections=%d is over what %d open files allow; using %d",
            http.max_connections,
            fd_limit,
            ceiling,
        )
        return ceiling
    return http.max_connections


class Limits(msgspec.Struct, frozen=True):
    header_timeout: float
    body_timeout: float
    max_connections: int
    retry_after_seconds: int


def tracker_field(scope: Any) -> dict[str, str]:
    """On the ingest path, the tracker an answer given by the server itself carries (as every
    ingest answer does, so a client that stores `answer.trackerId` keeps its visitor): the
    request's (query or cookie), else a new one unless the browser asks not to be tracked."""
    if not scope or not str(scope.get("path", "")).startswith(INGEST_PREFIX):
        return {}
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    found = tracker.in_request(scope, headers)
    untracked = headers.get("dnt") == "1" or headers.get("sec-gpc") == "1"
    if found or untracked:
        return {"trackerId": found or ""}
    # the connection layer answers outside the app, so without its clock: the system's
    return {"trackerId": new_id(to_micros(SystemClock().now()))}


def _error_bytes(
    status_line: bytes, code: str, headers: dict[str, str] | None = None, scope: Any = None
) -> bytes:
    err = ApiError(code, headers=headers)
    body = dumpb({**err.body(), **tracker_field(scope)})
    head = [status_line]
    for name, value in err.headers.items():
        head.append(f"{name.lower()}: {value}\r\n".encode("latin-1"))
    head.append(b"content-type: application/json\r\n")
    head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
    return b"".join(head) + body


LINGER_SECONDS = 2.0
"""How long a connection answered before its request body was read keeps reading (and
dropping) what the client still sends, so that closing it does not reset the answer away."""


class LingeringTransport:
    """The connection's transport as the HTTP cycle sees it. Closing it while the client is
    still sending the request's body (an early `413`) would make the kernel reset the
    connection, and the client may lose the answer it was sent: instead the write side is
    shut (the answer, then end of file), what still comes is dropped, and the connection is
    closed at the client's end of file or after LINGER_SECONDS."""

    def __init__(self, transport: asyncio.Transport, owner: Any) -> None:
        self._transport = transport
        self._owner = owner
        self.draining = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        t = self._transport
        if t.is_closing() or self.draining:
            return
        if not self._owner.awaiting_body or not t.can_write_eof():
            t.close()
            return
        self.draining = True
        t.write_eof()
        self._owner.loop.call_later(LINGER_SECONDS, self.hard_close)

    def hard_close(self) -> None:
        if not self._transport.is_closing():
            self._transport.close()


class Guard:
    """Per server: the connections that are only waiting, oldest first (a dict keeps order)."""

    def __init__(self) -> None:
        self.waiting: dict[GuardedHttpToolsProtocol, None] = {}
        self.evicted = 0
        self.refused = 0
        self.timed_out = 0

    def wait(self, conn: GuardedHttpToolsProtocol) -> None:
        self.waiting.pop(conn, None)
        self.waiting[conn] = None

    def busy(self, conn: GuardedHttpToolsProtocol) -> None:
        self.waiting.pop(conn, None)

    def evict_oldest(self) -> bool:
        for conn in self.waiting:
            self.waiting.pop(conn)
            self.evicted += 1
            conn.close_now()
            return True
        return False


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body timeouts and the connection cap.
    `limits` is set on the subclass `guarded_protocol` makes."""

    limits: Limits

    def __init__(self, config: uvicorn.Config, server_state: Any, *args: Any, **kw: Any) -> None:
        super().__init__(config, server_state, *args, **kw)
        guard = getattr(server_state, "shopevents_guard", None)
        if guard is None:
            guard = Guard()
            server_state.shopevents_guard = guard
        self.guard: Guard = guard
        self.in_head = True  # no complete request head since the last answer
        self.head_started = False
        self.message_open = False
        self.awaiting_body = False
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None

    # --- connection life ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(LingeringTransport(transport, self))  # type: ignore[arg-type]
        limits = self.limits
        if len(self.connections) > limits.max_connections and not self.guard.evict_oldest():
            self.guard.refused += 1
            if len(self.connections) > limits.max_connections + OVER_CAP_ANSWERS:
                self.close_now()
                return
            self.app = self.too_many_connections  # answered as soon as its head is in
        self.guard.wait(self)
        self.head_timer = self.loop.call_later(limits.header_timeout, self.head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.busy(self)
        self.cancel_timers()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]
        """The client half-closed its side: a request already in is still answered (then
        the connection is closed). A request whose body is not all in can never be: it ends
        as if the client had gone (the handler reading the body sees it, nothing is
        answered, as nginx does), instead of holding its connection until the body timeout.
        Otherwise the connection is closed now."""
        if self.transport.draining:  # type: ignore[attr-defined]
            self.transport.hard_close()  # type: ignore[attr-defined]
            return None
        cycle = self.cycle
        if self.awaiting_body and cycle is not None and not cycle.response_started:
            cycle.disconnected = True
            cycle.message_event.set()
            self.close_now()
            return None
        if not self.in_head and cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
            return True
        return None

    def close_now(self) -> None:
        """Close the connection; it stops counting towards the cap at once."""
        self.cancel_timers()
        self.guard.busy(self)
        self.connections.discard(self)
        if not self.transport.is_closing():
            self.transport.hard_close()  # type: ignore[attr-defined]

    def cancel_timers(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None

    # --- the parser's progress ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.transport.draining:  # type: ignore[attr-defined]
            return  # the rest of a body already answered: dropped
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self.in_head:
            # a head under way, or an idle connection whose keep-alive timer this data ended
            # (the tail of a body answered before it was read): either way, a deadline
            self.head_started = self.message_open
            if self.head_timer is None:
                self.head_timer = self.loop.call_later(
                    self.limits.header_timeout, self.head_timed_out
                )
        elif self.awaiting_body and self.body_timer is None:
            self.body_timer = self.loop.call_later(self.limits.body_timeout, self.body_timed_out)

    def on_message_begin(self) -> None:
        self.message_open = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_started = False
        self.awaiting_body = True
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.message_open = False
        self.awaiting_body = False
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        if self.in_head:
            # the rest of a body answered before it was read: not the next request's head
            self.head_started = False
        else:
            self.guard.busy(self)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self.in_head = True
            self.guard.wait(self)

    # --- timeouts ----------------------------------------------------------------------------

    def head_timed_out(self) -> None:
        self.head_timer = None
        self.guard.timed_out += 1
        if self.head_started and not self.transport.is_closing():
            self.transport.write(
                _error_bytes(b"HTTP/1.1 408 Request Timeout\r\n", "request_timeout")
            )
        self.close_now()

    def body_timed_out(self) -> None:
        self.body_timer = None
        self.guard.timed_out += 1
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and not self.transport.is_closing():
            self.transport.write(
                _error_bytes(
                    b"HTTP/1.1 408 Request Timeout\r\n",
                    "request_timeout",
                    scope=getattr(cycle, "scope", None),
                )
            )
        if cycle is not None:
            # the handler reading the body now sees the client gone; nothing more is sent
            cycle.disconnected = True
            cycle.message_event.set()
        self.close_now()

    # --- over the cap --------------------------------------------------------------------------

    async def too_many_connections(self, scope: Any, receive: Any, send: Any) -> None:
        retry = str(self.limits.retry_after_seconds)
        err = ApiError("too_many_connections", headers={"Retry-After": retry})
        body = dumpb({**err.body(), **tracker_field(scope)})
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"retry-after", retry.encode()),
                    (b"connection", b"close"),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def guarded_protocol(limits: Limits) -> type[GuardedHttpToolsProtocol]:
    return type("GuardedHttpTools", (GuardedHttpToolsProtocol,), {"limits": limits})


def server_limits(settings: Settings) -> Limits:
    """Raise the open-file limit, then the limits the protocol enforces."""
    fd_limit = raise_fd_limit()
    return Limits(
        header_timeout=settings.http.header_timeout_seconds,
        body_timeout=settings.http.body_timeout_seconds,
        max_connections=connection_cap(settings.http, fd_limit),
        retry_after_seconds=settings.ingest.retry_after_seconds,
    )


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, with times, and shopevents' own loggers on the same handler."""
    cfg: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    cfg["formatters"]["default"]["fmt"] = "%(asctime)s %(levelprefix)s %(message)s"
    cfg["formatters"]["access"]["fmt"] = (
        '%(asctime)s %(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
    )
    cfg["loggers"]["shopevents"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return cfg


def uvicorn_config(
    app: Callable[..., Any],
    settings: Settings,
    *,
    loop: Literal["uvloop", "asyncio", "auto"] = "uvloop",
    log_level: str = "warning",
) -> uvicorn.Config:
    """The uvicorn configuration of every shopevents HTTP server (`serve` and the tests'):
    `log_level` for uvicorn's and shopevents' loggers, one access-log line per request when
    the `access_log` setting is on."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        log_config=log_config(log_level),
        access_log=settings.access_log,
        loop=loop,
        http=guarded_protocol(server_limits(settings)),
        lifespan="on",
        timeout_keep_alive=settings.http.keep_alive_timeout_seconds,  # type: ignore[arg-type]
        timeout_graceful_shutdown=5,
    )


class Server(uvicorn.Server):
    """uvicorn's server that logs (at info level) one line once it listens: where, and
    `ready` (more to say, such as the database)."""

    def __init__(self, config: uvicorn.Config, *, ready: str = "") -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not self.started:
            return
        cfg = self.config
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        where = f"http://{host}:{cfg.port}"
        extra = f"; {self.ready}" if self.ready else ""
        access = "on" if cfg.access_log else "off"
        log.info(
            "shopevents ready: listening on %s%s; access log %s (stop with Ctrl+C)",
            where,
            extra,
            access,
        )
