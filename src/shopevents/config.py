"""One typed, frozen settings object: defaults < TOML file < SHOPEVENTS_* environment < flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec


class IngestSettings(msgspec.Struct, frozen=True, kw_only=True):
    max_body_bytes: int = 512 * 1024
    """Largest request body accepted (after gzip decompression); larger gets 413."""
    max_event_bytes: int = 32 * 1024
    """Largest single event; a larger one is rejected with `too_large`."""
    max_events: int = 500
    """Most events in one request; more gets 413."""
    api_max_body_bytes: int = 1024 * 1024
    """Largest REST API request body (after gzip decompression); larger gets 413."""
    api_max_lines: int = 1000
    """Most product lines in one purchase sent to the REST API; more gets 413."""
    group_commit_max_batch: int = 256
    """Most requests that share one write transaction."""
    group_commit_max_events: int = 1000
    """Most events that share one write transaction (a request with more has one of its own)."""
    group_commit_max_wait_ms: float = 1.0
    """How long a request may wait for others to share its transaction (0: one loop turn)."""
    group_commit_thread: Literal["auto", "on", "off"] = "auto"
    """Run transactions on a writer thread, so the loop serves requests while the database works (auto: PostgreSQL only)."""
    rate_limit_per_store: int = 10_000
    """Requests per second allowed per store (bursts of twice that); 0 turns the limit off."""
    rate_limit_per_client: int = 100
    """Requests per second one client address may send to one store (bursts of twice that); 0 turns the limit off."""
    rate_limit_exempt_loopback: bool = True
    """Loopback client addresses (the machine itself) are not limited per client."""
    retry_after_seconds: int = 5
    """The `Retry-After` sent with 429 and 503."""


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True):
    header_timeout_seconds: float = 10.0
    """Time a connection has to send a complete request head (from connect, or from its first byte on a kept-alive connection); then it is closed."""
    body_timeout_seconds: float = 30.0
    """Time a request has to send its whole body once its head is in; then `408 request_timeout` and close."""
    keep_alive_timeout_seconds: float = 5.0
    """How long an idle kept-alive connection stays open waiting for its next request."""
    max_connections: int = 0
    """Most open client connections (0: the open-file limit less 128); past it, the oldest connection not being answered is closed for a new one."""


class StorageSettings(msgspec.Struct, frozen=True, kw_only=True):
    sqlite_synchronous: str = "NORMAL"
    """SQLite `synchronous` pragma: NORMAL survives a process crash, FULL also a power loss."""
    busy_timeout_ms: int = 5000
    """How long a SQLite connection waits for a lock."""
    read_pool_size: int = 4
    """Connections kept for reads (API, dashboard, reports)."""
    sqlite_wal_reset_mb: int = 32
    """SQLite: when the write-ahead log passes this size, the writer checkpoints what the
    background checkpoints have left, so the log starts again from its beginning."""
    write_timeout_seconds: float = 1.5
    """Longest a request waits for its write: past it, `503` with `Retry-After`."""
    commit_timeout_seconds: float = 4.0
    """Longest a request waits for a transaction the database is working on: past it, `503 outcome_unknown`."""
    read_timeout_seconds: float = 10.0
    """Longest a read (REST, dashboard, reports, readiness) waits for the database: past it, `503`."""
    connect_timeout_seconds: int = 3
    """PostgreSQL: longest a new connection may take."""
    statement_timeout_ms: int = 30_000
    """PostgreSQL: longest one statement may run (`statement_timeout`); 0 for no limit."""
    lock_timeout_ms: int = 5_000
    """PostgreSQL: longest a statement waits for a row or table lock (`lock_timeout`); 0 for no limit."""
    startup_wait_seconds: float = 60.0
    """How long `serve` and `worker` wait at start for a database that is not answering yet."""
    sqlite_min_free_mb: int = 16
    """SQLite: `/readyz` answers `503` when the database's filesystem has less free space than this."""


class WorkerSettings(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = True
    """Run the worker loop (abandonment, webhooks, pruning) inside `serve`."""
    interval_seconds: float = 1.0
    """How often the worker looks for due work when idle."""
    batch_size: int = 500
    """Most carts one abandonment step decides."""


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True):
    allow_private_addresses: bool = False
    """Allow deliveries to private, loopback and link-local addresses."""
    timeout_seconds: float = 10.0
    """Time allowed for one delivery attempt."""
    concurrency: int = 16
    """Deliveries in flight at once (at most one per endpoint)."""
    max_endpoints_per_store: int = 25
    """Webhook endpoints one store may register (REST, CLI and dashboard refuse one more)."""


class DashboardSettings(msgspec.Struct, frozen=True, kw_only=True):
    secret_key: str = ""
    """Signs session cookies; set it in production (a random one is made per process otherwise)."""
    session_max_age_seconds: int = 14 * 24 * 3600
    """How long a dashboard login lasts."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = "sqlite:///./shopevents.db"
    """`sqlite:///path` or `postgresql://user@host:port/db`."""
    host: str = "127.0.0.1"
    """Address `serve` listens on."""
    port: int = 8000
    """Port `serve` listens on."""
    public_url: str = ""
    """Base URL the server is reached at, for snippets and links (default: http://host:port)."""
    ingest: IngestSettings = IngestSettings()
    http: HttpSettings = HttpSettings()
    storage: StorageSettings = StorageSettings()
    worker: WorkerSettings = WorkerSettings()
    webhooks: WebhookSettings = WebhookSettings()
    dashboard: DashboardSettings = DashboardSettings()

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


SECTIONS = ("ingest", "http", "storage", "worker", "webhooks", "dashboard")
ENV_PREFIX = "SHOPEVENTS_"


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name.endswith("_file") and name != "config_file":
            name = name[: -len("_file")]
            value = Path(value).read_text().strip()
        for section in SECTIONS:
            if name.startswith(section + "_"):
                out.setdefault(section, {})[name[len(section) + 1 :]] = value
                break
        else:
            if name != "config":
                out[name] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class SettingsError(ValueError):
    pass


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings: defaults, then a TOML file, then SHOPEVENTS_* variables, then flags."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = config_file or env.get("SHOPEVENTS_CONFIG")
    if path:
        with open(path, "rb") as fh:
            data = _merge(data, tomllib.load(fh))
    data = _merge(data, _env_overrides(env))
    if overrides:
        data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc


def documented_settings() -> list[tuple[str, str, Any]]:
    """(name, doc, default) of every setting, for docs and the test that checks them."""
    import inspect as pyinspect

    out: list[tuple[str, str, Any]] = []

    def walk(cls: type, prefix: str, default_obj: Any) -> None:
        source = pyinspect.getsource(cls)
        lines = source.splitlines()
        for field in msgspec.structs.fields(cls):
            value = getattr(default_obj, field.name)
            if isinstance(value, msgspec.Struct):
                walk(type(value), f"{prefix}{field.name}.", value)
                continue
            doc = ""
            for i, line in enumerate(lines):
                if line.strip().startswith(f"{field.name}:") and i + 1 < len(lines):
                    nxt = lines[i + 1].strip()
                    if nxt.startswith('"""'):
                        doc = nxt.strip('"')
                    break
            out.append((prefix + field.name, doc, value))

    walk(Settings, "", Settings())
    return out
