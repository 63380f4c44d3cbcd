"""The `Shopevents-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The HMAC is computed under the endpoint's secret (its UTF-8 bytes, `whsec_` prefix included)
over `"<t>." + raw body`. Receivers recompute it on the raw bytes they received, compare in
constant time and refuse timestamps more than five minutes away from their clock.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Shopevents-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the `Shopevents-Signature` header."""
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def parse(header: str) -> tuple[int | None, list[str]]:
    """The timestamp and every `v1` signature of a header (several during a secret rotation)."""
    timestamp: int | None = None
    sigs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and (value.isascii() and value.isdigit()):
            timestamp = int(value)
        elif key == "v1" and value:
            sigs.append(value.strip())
    return timestamp, sigs


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True when `header` signs `body` under `secret` and its timestamp is within `tolerance`."""
    timestamp, sigs = parse(header or "")
    if timestamp is None or not sigs or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in sigs)
