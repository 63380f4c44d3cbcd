"""Every id and secret the server makes, in one place, each with its stored format.

Ids made here:

- `new_id(now_us)`: 24 hex characters shaped like a MongoDB ObjectId, as Connectif's ids
  are: 4 bytes of seconds, 20 bits of microseconds, then 44 random bits. Contacts, trackers
  the server mints, imports, erasure jobs and custom event types. Ids made at a later
  instant sort later, so the rows of one transaction (one instant) land together at the end
  of their indexes instead of on pages all over the last second's range.
- `keyed_tracker(store_id, request_key)`: 24 hex characters too, from a hash of the store
  and a request's `requestId`: the tracker a cluster collector mints for a request that has
  none, the same for every repeat of the request, on any collector.
- `store_id()`: a random UUID (version 4) in its 36-character text form.
- `api_key_id()`, `write_key_id()`, `endpoint_id()`, `ping_delivery_id()`: a prefix
  naming the kind (`key_`, `wk_`, `whe_`, `whd_`) and random hex. `delivery_id(outbox_id,
  endpoint_id)` is not random: the same outbox row and endpoint always give the same
  `whd_` id, so a delivery is made once however often its fan-out runs.
- `webhook_secret()` (`whsec_` and 48 hex characters), `secret()` (URL-safe base64 of 32
  random bytes: API-key and write-key secrets, session tokens) and `hex_secret()` (64 hex
  characters: the server's key for suppression hashes).
- `token(nbytes)`: random hex that names one holder of a lease (a webhook lane: 8 bytes) or
  one commit (its mark in `commit_marks`, on PostgreSQL: 16 bytes); never shown to anyone.

Not made here: row ids (integers from the database's sequences); trackers minted in the
browser by shopevents.js (UUID version 7 text, 36 characters; the server accepts both kinds
of tracker); and the demo shop's cart and order numbers, which stand for a merchant's own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid


def new_id(now_us: int) -> str:
    """A time-ordered id for the instant `now_us` (µs since the Unix epoch)."""
    seconds, micros = divmod(now_us, 1_000_000)
    noise = int.from_bytes(os.urandom(6), "big") >> 4
    return f"{seconds & 0xFFFFFFFF:08x}{micros:05x}{noise:011x}"


def keyed_tracker(store_id: str, request_key: str) -> str:
    """The tracker minted for the request with this `requestId` (the same every time)."""
    return hashlib.sha256(f"tracker\x00{store_id}\x00{request_key}".encode()).hexdigest()[:24]


def store_id() -> str:
    return str(uuid.uuid4())


def api_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def write_key_id() -> str:
    """A Segment write key's id."""
    return "wk_" + secrets.token_hex(8)


def endpoint_id() -> str:
    """A webhook endpoint's id."""
    return "whe_" + secrets.token_hex(10)


def ping_delivery_id() -> str:
    """The id of a webhook delivery sent on request (a ping), not made from an outbox row."""
    return "whd_" + secrets.token_hex(12)


def delivery_id(outbox_id: int, endpoint_id: str) -> str:
    """The stable id of the delivery of outbox row `outbox_id` to `endpoint_id`."""
    digest = hashlib.sha256(f"{outbox_id}/{endpoint_id}".encode()).hexdigest()
    return "whd_" + digest[:24]


WEBHOOK_SECRET_PREFIX = "whsec_"


def webhook_secret() -> str:
    """The secret a webhook endpoint's deliveries are signed with."""
    return WEBHOOK_SECRET_PREFIX + secrets.token_hex(24)


def secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hex_secret(nbytes: int = 32) -> str:
    return secrets.token_hex(nbytes)


def token(nbytes: int = 8) -> str:
    return secrets.token_hex(nbytes)
