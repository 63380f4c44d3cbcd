"""Token-bucket rate limits per store and per client address (off when the rate is 0)."""

from __future__ import annotations

import time


class _Buckets:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.burst = max(rate, 1) * 2
        self.state: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        tokens, last = self.state.get(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.state[key] = (tokens, now)
            return False
        if len(self.state) > 100_000:
            self.state.clear()
        self.state[key] = (tokens - 1, now)
        return True


class RateLimiter:
    def __init__(self, per_store: int, per_client: int) -> None:
        self.stores = _Buckets(per_store)
        self.clients = _Buckets(per_client)

    def allow(self, store_id: str, client: str) -> bool:
        now = time.monotonic()
        return self.stores.allow(store_id, now) and self.clients.allow(client, now)
