"""`cluster init`: the intake stream, its per-partition consumers and the two key-value
buckets, created once (running it again changes nothing and says what exists); and what
collectors and processors read back from them (the number of partitions)."""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from shopevents.cluster import messages

DUPLICATE_WINDOW_SECONDS = 120.0
ACK_WAIT_SECONDS = 30.0
MAX_ACK_PENDING = 2000
LEASES_TTL_SECONDS = 10.0


class Layout(msgspec.Struct, frozen=True, kw_only=True):
    prefix: str
    partitions: int
    replicas: int
    max_bytes: int


class NotInitialised(Exception):
    """The stream does not exist: `cluster init` has not been run with this prefix."""


def stream_config(layout: Layout) -> StreamConfig:
    return StreamConfig(
        name=messages.stream_name(layout.prefix),
        description=f"shopevents intake, {layout.partitions} partitions",
        subjects=[messages.subject(layout.prefix, p) for p in range(layout.partitions)],
        storage=StorageType.FILE,
        num_replicas=layout.replicas,
        max_bytes=layout.max_bytes,
        discard=DiscardPolicy.NEW,
        # Acknowledged messages leave the stream, so `max_bytes` bounds the backlog, not the
        # traffic so far (with the default limits retention a full stream stays full).
        retention=RetentionPolicy.WORK_QUEUE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


def consumer_config(prefix: str, part: int) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=messages.consumer_name(part),
        filter_subject=messages.subject(prefix, part),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        max_ack_pending=MAX_ACK_PENDING,
    )


def bucket_configs(layout: Layout) -> list[KeyValueConfig]:
    return [
        KeyValueConfig(
            bucket=messages.bucket_name(layout.prefix, "leases"),
            history=1,
            ttl=LEASES_TTL_SECONDS,
            replicas=layout.replicas,
        ),
    ]


async def init(js: JetStreamContext, layout: Layout) -> list[str]:
    """Create what is missing; one line per object saying what was done or what exists.
    An existing stream keeps its partitions (the setting is only read at the first init)."""
    said: list[str] = []
    name = messages.stream_name(layout.prefix)
    try:
        info = await js.stream_info(name)
        parts = len(info.config.subjects or [])
        said.append(
            f"stream {name}: exists ({parts} partitions, {info.config.num_replicas} replicas, "
            f"{info.state.messages} messages)"
        )
    except NotFoundError:
        await js.add_stream(stream_config(layout))
        parts = layout.partitions
        said.append(
            f"stream {name}: created ({parts} partitions, {layout.replicas} replicas, "
            f"at most {layout.max_bytes} bytes)"
        )
    created = 0
    for p in range(parts):
        try:
            await js.consumer_info(name, messages.consumer_name(p))
        except NotFoundError:
            await js.add_consumer(name, consumer_config(layout.prefix, p))
            created += 1
    span = f"{messages.consumer_name(0)}..{messages.consumer_name(parts - 1)}"
    said.append(
        f"consumers {span}: {'created' if created == parts else 'exist'}"
        + (f" ({created} created)" if 0 < created < parts else "")
    )
    for config in bucket_configs(layout):
        try:
            await js.key_value(config.bucket)
            said.append(f"bucket {config.bucket}: exists")
        except BucketNotFoundError:
            await js.create_key_value(config)
            said.append(
                f"bucket {config.bucket}: created ({layout.replicas} replicas, "
                f"entries kept {config.ttl:g} s)"
            )
    return said


async def partitions(js: JetStreamContext, prefix: str) -> int:
    """The number of partitions the stream was made with; NotInitialised without one."""
    try:
        info = await js.stream_info(messages.stream_name(prefix))
    except NotFoundError:
        raise NotInitialised(messages.stream_name(prefix)) from None
    return len(info.config.subjects or [])
