"""Token-bucket rate limits per client address (at each store) and per store.

A request is first checked against its client's own bucket; only a request its client may
send draws from the store's bucket. A flooding client's refused requests therefore never
drain the store's allowance, and the store's bucket only ever holds requests that clients
were allowed to send: one address can take at most its own rate out of a store's.

Time comes from `clock`, a monotonic function (seconds), so tests move it instead of
sleeping. A rate of 0 turns that limit off."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from shopevents.clock import monotonic
from shopevents.config.settings import IngestSettings

MAX_KEYS = 100_000
"""Buckets kept per limit; past it, buckets full again (idle long enough) are forgotten."""


class Buckets:
    """One token bucket per key: `rate` tokens a second, holding at most `burst`."""

    def __init__(self, rate: float, burst_factor: float = 2.0) -> None:
        self.rate = rate
        self.burst = max(rate * burst_factor, 1.0)
        self.state: dict[object, tuple[float, float]] = {}

    def allow(self, key: object, now: float) -> bool:
        if self.rate <= 0:
            return True
        tokens, last = self.state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.state[key] = (tokens, now)
            return False
        if len(self.state) >= MAX_KEYS and key not in self.state:
            self.forget_full(now)
        self.state[key] = (tokens - 1, now)
        return True

    def forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (a forgotten bucket starts full anyway);
        if every bucket is still in use, drop them all rather than grow without bound."""
        refill = self.burst / self.rate
        self.state = {k: v for k, v in self.state.items() if now - v[1] < refill}
        if len(self.state) >= MAX_KEYS:
            self.state.clear()


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RateLimiter:
    """`allow(store_id, client)`: the client's bucket at that store first, then the store's."""

    def __init__(
        self,
        per_store: float,
        per_client: float,
        *,
        exempt_loopback: bool = False,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self.stores = Buckets(per_store)
        self.clients = Buckets(per_client)
        self.exempt_loopback = exempt_loopback
        self.clock = clock
        self._loopback: dict[str, bool] = {}

    @classmethod
    def of(cls, settings: IngestSettings) -> RateLimiter:
        """The limiter of the ingest settings: the rates per store and per client, and whether
        loopback clients are exempt."""
        return cls(
            settings.rate_limit_per_store,
            settings.rate_limit_per_client,
            exempt_loopback=settings.rate_limit_exempt_loopback,
        )

    def client_limited(self, client: str) -> bool:
        if not self.exempt_loopback:
            return True
        known = self._loopback.get(client)
        if known is None:
            if len(self._loopback) >= MAX_KEYS:
                self._loopback.clear()
            known = self._loopback[client] = is_loopback(client)
        return not known

    def allow(self, store_id: str, client: str) -> bool:
        if self.stores.rate <= 0 and self.clients.rate <= 0:
            return True
        now = self.clock()
        limited = self.clients.rate > 0 and self.client_limited(client)
        if limited and not self.clients.allow((store_id, client), now):
            return False  # refused for its client: the store's bucket is not touched
        return self.stores.allow(store_id, now)
