"""The retry schedule: the waits after each failed attempt, with ±20 % jitter.

Attempt 1 is sent as soon as the delivery is due; after a transient failure of attempt n the
next one waits `SCHEDULE[n - 1]` seconds (±20 %), or what the receiver's `Retry-After`
asks for. After attempt `MAX_ATTEMPTS` fails the delivery is dead-lettered.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

SCHEDULE: tuple[int, ...] = (
    5,
    30,
    2 * 60,
    10 * 60,
    60 * 60,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    24 * 3600,
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.2
MAX_RETRY_AFTER = SCHEDULE[-1]


def retry_delay(attempts: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait after `attempts` attempts have failed, or None when none is left."""
    if attempts < 1 or attempts >= MAX_ATTEMPTS:
        return None
    base = SCHEDULE[attempts - 1]
    r = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return base * r


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from `now`, capped at 24 h."""
    if not value:
        return None
    value = value.strip()
    seconds: float
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 1.0), float(MAX_RETRY_AFTER))
