"""What a collector publishes for one request, and the partition it goes to."""

from __future__ import annotations

import zlib

import msgspec


class IntakeMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One request as a collector accepted it: enough for a processor to rebuild the same
    `Prepared` (decoding is pure) plus what the collector decided and answered with."""

    id: str  # minted by the collector; the request's `intake_id`
    store_id: str
    received_at: int  # µs, on the collector's clock
    channel: str
    body: bytes
    tracker_id: str  # the request's own tracker, or the one the collector minted
    origin: str | None = None
    bot: str | None = None
    # Event index → the collector's verdict on each accepted purchase event:
    # "accepted" | "duplicate" | "conflict".
    purchases: dict[int, str] = {}
    version: int = 1


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(IntakeMessage)


def encode(message: IntakeMessage) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes) -> IntakeMessage:
    """Raises msgspec.DecodeError or msgspec.ValidationError on a message it cannot read."""
    return _decoder.decode(data)


def partition(store_id: str, key: str | None, partitions: int) -> int:
    """The partition of a request: by store and tracker (else e-mail, else store alone), so
    one contact's requests are applied in order."""
    text = f"{store_id}:{key}" if key else store_id
    return zlib.crc32(text.encode()) % partitions


def subject(prefix: str, part: int) -> str:
    return f"{prefix}.intake.{part}"


def stream_name(prefix: str) -> str:
    return f"{prefix.upper()}_INTAKE"


def consumer_name(part: int) -> str:
    return f"part-{part}"


def bucket_name(prefix: str, what: str) -> str:
    """`leases` (processors' partitions)."""
    return f"{prefix.upper()}_{what}"
