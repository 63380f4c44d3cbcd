"""One way to connect to NATS, for collectors, processors and `cluster init`: the URL list,
short connect timeouts, reconnection (forever for the long-running roles), and failures
logged as one line each rather than a traceback per attempt."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoServersError

from shopevents.clock import monotonic

log = logging.getLogger("shopevents.cluster")

CONNECT_TIMEOUT_SECONDS = 2.0
RECONNECT_WAIT_SECONDS = 0.5
PING_INTERVAL_SECONDS = 5
# A failure repeated (the server down, reconnecting every half second) is logged at most this
# often.
LOG_EVERY_SECONDS = 10.0


def split_urls(urls: str | list[str]) -> list[str]:
    if isinstance(urls, list):
        return urls
    return [u.strip() for u in urls.split(",") if u.strip()]


class _Quiet:
    """nats-py's callbacks, as log lines: one per kind of failure per LOG_EVERY_SECONDS."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last: dict[str, float] = {}
        self.client: Client | None = None
        self.silent = False

    def _say(self, key: str, level: int, text: str) -> None:
        if self.silent:
            return
        now = monotonic()
        if now - self.last.get(key, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
            self.last[key] = now
            log.log(level, "%s: %s", self.name, text)

    async def error(self, exc: Exception) -> None:
        self._say(type(exc).__name__, logging.WARNING, f"NATS: {exc or type(exc).__name__}")

    async def disconnected(self) -> None:
        if self.client is not None and self.client.is_closed:
            return  # closed on purpose
        self._say("disconnected", logging.WARNING, "disconnected from NATS; reconnecting")

    async def reconnected(self) -> None:
        self.last.pop("disconnected", None)
        log.info("%s: reconnected to NATS", self.name)


async def connect(
    urls: str | list[str], *, name: str, persistent: bool = True, first_wait: float = 0.0
) -> Client:
    """A connection to one of `urls` (the client learns the cluster's other servers from it).
    `persistent`: reconnect forever once connected (collectors, processors), and try for
    `first_wait` seconds to make the first connection; otherwise give up after one round of
    the servers (a command that reports and exits). A first connection that no server
    accepts raises `nats.errors.NoServersError`."""
    quiet = _Quiet(name)
    quiet.silent = not persistent  # a command says what failed in its own words
    options: dict[str, Any] = {
        "servers": split_urls(urls),
        "name": name,
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "reconnect_time_wait": RECONNECT_WAIT_SECONDS,
        "max_reconnect_attempts": -1 if persistent else 1,
        "allow_reconnect": True,
        "ping_interval": PING_INTERVAL_SECONDS,
        "max_outstanding_pings": 2,
        "error_cb": quiet.error,
        "disconnected_cb": quiet.disconnected,
        "reconnected_cb": quiet.reconnected,
    }
    if persistent:
        # Requests published while reconnecting wait in the client (bounded), each still
        # bound by its publish timeout.
        options["pending_size"] = 8 << 20
        try:
            client = await asyncio.wait_for(nats.connect(**options), max(first_wait, 0.1))
        except TimeoutError:
            raise NoServersError() from None
    else:
        client = await nats.connect(**options)
    quiet.client = client
    return client
