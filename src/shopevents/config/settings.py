"""The settings' declarations: one typed, frozen Settings object of sections, each setting
with its rule next to it (its type, `Meta(ge=, le=)` bounds, a `Literal` of allowed values)
and its docstring (what docs/configuration.md says of it)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

DATABASE_URL = Meta(
    pattern=r"^(sqlite://|postgresql://|postgres://)",
    description="a URL `sqlite:///PATH` or `postgresql://...`",
)
PUBLIC_URL = Meta(
    pattern=r"^(https?://\S+)?$",
    description="empty, or a URL `http(s)://...`",
)
NATS_URLS = Meta(
    pattern=r"^(nats|tls)://[^\s,]+(,(nats|tls)://[^\s,]+)*$",
    description="one or more URLs `nats://HOST:PORT`, separated by commas",
)
CLUSTER_PREFIX = Meta(
    pattern=r"^[a-z][a-z0-9_]{0,31}$",
    description="a name of 1 to 32 lower-case letters, digits and `_`, from a letter",
)
METRICS_TOKEN = Meta(
    pattern=r"^[\x21-\x7e]*$",
    description="empty, or a token of printable ASCII without spaces",
)


class IngestSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_body_bytes: Annotated[int, Meta(ge=1024, le=1 << 30)] = 512 * 1024
    """Largest request body accepted (after gzip decompression); larger gets 413."""
    max_event_bytes: Annotated[int, Meta(ge=256, le=1 << 30)] = 32 * 1024
    """Largest single event; a larger one is rejected with `too_large`."""
    max_events: Annotated[int, Meta(ge=1, le=100_000)] = 500
    """Most events in one request; more gets 413."""
    api_max_body_bytes: Annotated[int, Meta(ge=1024, le=1 << 30)] = 1024 * 1024
    """Largest REST API request body (after gzip decompression); larger gets 413."""
    api_max_lines: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    """Most product lines in one purchase sent to the REST API; more gets 413."""
    group_commit_max_batch: Annotated[int, Meta(ge=1, le=100_000)] = 256
    """Most requests that share one write transaction."""
    group_commit_max_events: Annotated[int, Meta(ge=1, le=1_000_000)] = 1000
    """Most events that share one write transaction (a request with more has one of its own)."""
    group_commit_max_wait_ms: Annotated[float, Meta(ge=0, le=1000)] = 1.0
    """How long a request may wait for others to share its transaction (0: one loop turn)."""
    group_commit_thread: Literal["auto", "on", "off"] = "auto"
    """Run transactions on a writer thread, so the loop serves requests while the database works (auto: PostgreSQL only)."""
    rate_limit_per_store: Annotated[int, Meta(ge=0, le=100_000_000)] = 10_000
    """Requests per second allowed per store (bursts of twice that); 0 turns the limit off."""
    rate_limit_per_client: Annotated[int, Meta(ge=0, le=100_000_000)] = 100
    """Requests per second one client address may send to one store (bursts of twice that); 0 turns the limit off."""
    rate_limit_exempt_loopback: bool = True
    """Loopback client addresses (the machine itself) are not limited per client."""
    retry_after_seconds: Annotated[int, Meta(ge=1, le=3600)] = 5
    """The `Retry-After` sent with 429 and 503."""


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    header_timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 10.0
    """Time a connection has to send a complete request head (from connect, or from its first byte on a kept-alive connection); then it is closed."""
    body_timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 30.0
    """Time a request has to send its whole body once its head is in; then `408 request_timeout` and close."""
    keep_alive_timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 5.0
    """How long an idle kept-alive connection stays open waiting for its next request."""
    max_connections: Annotated[int, Meta(ge=0, le=10_000_000)] = 0
    """Most open client connections (0: the open-file limit less 128); past it, the oldest connection not being answered is closed for a new one."""


class StorageSettings(msgspec.Struct, frozen=True, kw_only=True):
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "NORMAL"
    """SQLite `synchronous` pragma: NORMAL survives a process crash, FULL also a power loss."""
    busy_timeout_ms: Annotated[int, Meta(ge=0, le=3_600_000)] = 5000
    """How long a SQLite connection waits for a lock."""
    read_pool_size: Annotated[int, Meta(ge=1, le=1000)] = 4
    """Connections kept for reads (API, dashboard, reports)."""
    sqlite_wal_reset_mb: Annotated[int, Meta(ge=1, le=1_000_000)] = 32
    """SQLite: when the write-ahead log passes this size, the writer checkpoints what the
    background checkpoints have left, so the log starts again from its beginning."""
    write_timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 1.5
    """Longest a request waits for its write: past it, `503` with `Retry-After`."""
    commit_timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 4.0
    """Longest a request waits for a transaction the database is working on: past it, `503 outcome_unknown`."""
    read_timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 10.0
    """Longest a read (REST, dashboard, reports, readiness) waits for the database: past it, `503`."""
    connect_timeout_seconds: Annotated[int, Meta(ge=1, le=3600)] = 3
    """PostgreSQL: longest a new connection may take."""
    statement_timeout_ms: Annotated[int, Meta(ge=0, le=86_400_000)] = 30_000
    """PostgreSQL: longest one statement may run (`statement_timeout`); 0 for no limit."""
    lock_timeout_ms: Annotated[int, Meta(ge=0, le=86_400_000)] = 5_000
    """PostgreSQL: longest a statement waits for a row or table lock (`lock_timeout`); 0 for no limit."""
    startup_wait_seconds: Annotated[float, Meta(ge=0, le=86_400)] = 60.0
    """How long `serve` and `worker` wait at start for a database that is not answering yet."""
    sqlite_min_free_mb: Annotated[int, Meta(ge=0, le=1_000_000_000)] = 16
    """SQLite: `/readyz` answers `503` when the database's filesystem has less free space than this."""


class WorkerSettings(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = True
    """Run the worker loop (abandonment, webhooks, pruning) inside `serve`."""
    interval_seconds: Annotated[float, Meta(gt=0, le=3600)] = 1.0
    """How often the worker looks for due work when idle."""
    batch_size: Annotated[int, Meta(ge=1, le=1_000_000)] = 500
    """Most carts one abandonment step decides."""


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True):
    allow_private_addresses: bool = False
    """Allow deliveries to private, loopback and link-local addresses."""
    timeout_seconds: Annotated[float, Meta(gt=0, le=3600)] = 10.0
    """Time allowed for one delivery attempt."""
    concurrency: Annotated[int, Meta(ge=1, le=10_000)] = 16
    """Deliveries in flight at once (at most one per endpoint)."""
    max_endpoints_per_store: Annotated[int, Meta(ge=1, le=10_000)] = 25
    """Webhook endpoints one store may register (REST, CLI and dashboard refuse one more)."""


class DashboardSettings(msgspec.Struct, frozen=True, kw_only=True):
    secret_key: str = ""
    """Signs session cookies; set it in production (a random one is made per process otherwise)."""
    session_max_age_seconds: Annotated[int, Meta(ge=60, le=366 * 24 * 3600)] = 14 * 24 * 3600
    """How long a dashboard login lasts."""


class ClusterSettings(msgspec.Struct, frozen=True, kw_only=True):
    nats_urls: Annotated[str, NATS_URLS] = "nats://127.0.0.1:4222"
    """The NATS JetStream servers of cluster mode (`collect`, `process`, `cluster init`), comma-separated; also `--nats`."""
    prefix: Annotated[str, CLUSTER_PREFIX] = "shopevents"
    """Names the stream, consumers, buckets and subjects, so that several deployments share one NATS; also `--prefix`."""
    partitions: Annotated[int, Meta(ge=1, le=1024)] = 16
    """Partitions of the intake stream (fixed by `cluster init`): processors share them out."""
    replicas: Annotated[int, Meta(ge=1, le=5)] = 3
    """Copies of the stream and buckets `cluster init` makes (on that many NATS servers); also `--replicas`."""
    max_stream_bytes: Annotated[int, Meta(ge=1 << 20, le=1 << 50)] = 1 << 30
    """Most bytes the intake stream holds; when full, collectors answer `503` until processors catch up."""
    publish_timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 2.0
    """Longest a collector waits for JetStream to acknowledge a request; then `503` with `Retry-After`."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: Annotated[str, DATABASE_URL] = "sqlite:///./shopevents.db"
    """`sqlite:///path` or `postgresql://user@host:port/db`."""
    host: Annotated[str, Meta(min_length=1)] = "127.0.0.1"
    """Address `serve` listens on."""
    port: Annotated[int, Meta(ge=1, le=65535)] = 8000
    """Port `serve` listens on."""
    public_url: Annotated[str, PUBLIC_URL] = ""
    """Base URL the server is reached at, for snippets and links (default: http://host:port)."""
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    """What `serve` logs: debug, info (a ready line, warnings, errors), warning, error or critical."""
    access_log: bool = False
    """`serve` logs one line per HTTP request (client, request line, status)."""
    metrics_token: Annotated[str, METRICS_TOKEN] = ""
    """When set, `GET /metrics` needs `Authorization: Bearer TOKEN` (401 otherwise); empty: `/metrics` is open to anyone who reaches the server."""
    ingest: IngestSettings = IngestSettings()
    http: HttpSettings = HttpSettings()
    storage: StorageSettings = StorageSettings()
    worker: WorkerSettings = WorkerSettings()
    webhooks: WebhookSettings = WebhookSettings()
    dashboard: DashboardSettings = DashboardSettings()
    cluster: ClusterSettings = ClusterSettings()

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
