"""Verify a shopevents webhook (Python 3, standard library only).

    from verify_webhook import verify_webhook

    ok = verify_webhook(secret, request.headers["Shopevents-Signature"], raw_body)

Use the raw request body, byte for byte, as received: not a re-serialised JSON object.
Run as a script it checks one saved delivery:

    python verify_webhook.py SECRET "t=...,v1=..." body.json
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import time

TOLERANCE_SECONDS = 300  # refuse signatures older (or newer) than five minutes


def verify_webhook(secret: str, header: str, raw_body: bytes, now: float | None = None) -> bool:
    timestamp = None
    signatures = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


if __name__ == "__main__":
    secret, header, path = sys.argv[1:4]
    now = float(sys.argv[4]) if len(sys.argv) > 4 else None
    with open(path, "rb") as fh:
        body = fh.read()
    valid = verify_webhook(secret, header, body, now)
    print("valid" if valid else "invalid")
    sys.exit(0 if valid else 1)
