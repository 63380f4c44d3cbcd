"""One typed, frozen settings object: defaults < TOML file < SHOPEVENTS_* environment < flags.

Each setting declares its rule next to it (its type, `Meta(ge=, le=)` bounds, a `Literal` of
allowed values): the TOML file, the environment and the command line are all checked against
that one rule set, and a value that breaks it, an unknown key or section, or an unknown
`SHOPEVENTS_*` variable stops the command with one line naming the setting and its source.
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect as pyinspect
import itertools
import json
import os
import re
import textwrap
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

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


ENV_PREFIX = "SHOPEVENTS_"
# SHOPEVENTS_* variables that are not settings: the settings file, the password
# `users create` reads, the CLI's traceback switch, and the test and benchmark tools' own
# (SHOPEVENTS_TEST_*, ...). tests/unit/test_settings.py finds any other the code reads.
OTHER_ENV = frozenset(
    {
        "SHOPEVENTS_CONFIG",
        "SHOPEVENTS_NEW_PASSWORD",
        "SHOPEVENTS_DEBUG",
        "SHOPEVENTS_UPDATE_SCREENSHOTS",
        "SHOPEVENTS_CHROMIUM",
        "SHOPEVENTS_FUZZ_EXAMPLES",
        "SHOPEVENTS_OPENAPI_EXAMPLES",
    }
)
OTHER_ENV_PREFIXES = ("SHOPEVENTS_TEST_",)
# The flags that set a setting, for messages.
FLAGS = {
    "database_url": "--database",
    "host": "serve --host",
    "port": "serve --port",
    "cluster.nats_urls": "--nats",
    "cluster.prefix": "--prefix",
    "cluster.replicas": "cluster init --replicas",
}


class SettingsError(ValueError):
    """A setting that breaks its rule, or a name that is no setting: one line, the setting's
    name, where it came from, what was expected and what came."""


class _Rule(msgspec.Struct, frozen=True):
    name: str  # "port", "ingest.max_events"
    type: Any  # the annotation: msgspec checks values against it


def _sections() -> dict[str, type[msgspec.Struct]]:
    return {
        f.name: type(f.default)
        for f in msgspec.structs.fields(Settings)
        if isinstance(f.default, msgspec.Struct)
    }


@functools.cache
def _rules() -> dict[str, _Rule]:
    out: dict[str, _Rule] = {}
    sections = _sections()
    for f in msgspec.structs.fields(Settings):
        if f.name in sections:
            for g in msgspec.structs.fields(sections[f.name]):
                out[f"{f.name}.{g.name}"] = _Rule(f"{f.name}.{g.name}", g.type)
        else:
            out[f.name] = _Rule(f.name, f.type)
    return out


def rules() -> dict[str, _Rule]:
    """Every setting's rule, by its dotted name, in declaration order."""
    return dict(_rules())


def env_name(name: str) -> str:
    """`ingest.max_events` -> `SHOPEVENTS_INGEST_MAX_EVENTS`."""
    return ENV_PREFIX + name.replace(".", "_").upper()


def _num(v: float) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def describe(rule_type: Any) -> str:
    """What a rule allows, in words: the docs show it and error messages say it."""
    info = msgspec.inspect.type_info(rule_type)
    if isinstance(info, msgspec.inspect.Metadata):
        text = (info.extra_json_schema or {}).get("description")
        if text:
            return str(text)
        info = info.type
    if isinstance(info, msgspec.inspect.BoolType):
        return "`true` or `false`"
    if isinstance(info, msgspec.inspect.LiteralType):
        values = typing.get_args(rule_type) or info.values  # as declared, not sorted
        return "one of " + ", ".join(f"`{v}`" for v in values)
    if isinstance(info, msgspec.inspect.StrType):
        return "non-empty text" if info.min_length else "text"
    if isinstance(info, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        what = "a whole number" if isinstance(info, msgspec.inspect.IntType) else "a number"
        if info.gt is not None:
            low = f"above {_num(info.gt)}"
            return (
                f"{what} {low} and at most {_num(info.le)}"
                if info.le is not None
                else f"{what} {low}"
            )
        if info.ge is not None:
            return (
                f"{what} from {_num(info.ge)} to {_num(info.le)}"
                if info.le is not None
                else f"{what} from {_num(info.ge)} up"
            )
        return f"{what} up to {_num(info.le)}" if info.le is not None else what
    return repr(info)


def _shown(value: Any, raw_text: bool) -> str:
    if isinstance(value, str):  # a URL's password is not repeated in a message
        value = re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1:***@", value)
    if raw_text and isinstance(value, str):
        return value if value.strip() == value and value else json.dumps(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _check(rule: _Rule, value: Any, source: str, *, raw_text: bool = False) -> Any:
    """`value` read by `rule`, or SettingsError naming the setting and its source."""
    info = msgspec.inspect.type_info(rule.type)
    if isinstance(info, msgspec.inspect.LiteralType) and isinstance(value, str):
        # allowed words are matched regardless of case (`full` is `FULL`)
        for allowed in info.values:
            if isinstance(allowed, str) and allowed.lower() == value.strip().lower():
                value = allowed
    try:
        return msgspec.convert(value, rule.type, strict=False)
    except msgspec.ValidationError:
        raise SettingsError(
            f"invalid setting {rule.name} ({source}): expected {describe(rule.type)}, "
            f"got {_shown(value, raw_text)}"
        ) from None


def _did_you_mean(word: str, choices: list[str], shown: str = "{}") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {shown.format(close[0])}?" if close else ""


def _file_values(path: str | Path) -> dict[str, Any]:
    where = f"file {path}"
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(
            f"cannot read the settings file {path}: {exc.strerror or exc}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"invalid settings file {path}: {exc}") from None
    table = rules()
    sections = _sections()
    top = [n for n in table if "." not in n]
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                raise SettingsError(
                    f"invalid setting {key} ({where}): expected a section [{key}], "
                    f"got {_shown(value, False)}"
                )
            keys = [n.split(".", 1)[1] for n in table if n.startswith(key + ".")]
            for sub, subvalue in value.items():
                name = f"{key}.{sub}"
                if name not in table:
                    hint = _did_you_mean(sub, keys)
                    raise SettingsError(
                        f"invalid setting {name} ({where}): expected a setting of "
                        f"[{key}], got the unknown key {sub}{hint}"
                    )
                out[name] = _check(table[name], subvalue, where)
        elif key in top:
            out[key] = _check(table[key], value, where)
        elif isinstance(value, dict):
            hint = _did_you_mean(key, list(sections), "[{}]")
            raise SettingsError(
                f"invalid setting [{key}] ({where}): expected one of the sections "
                f"{', '.join(sections)}, got the unknown section [{key}]{hint}"
            )
        else:
            hint = _did_you_mean(key, top + [n for n in table if "." in n])
            raise SettingsError(
                f"invalid setting {key} ({where}): expected a setting or a section, "
                f"got the unknown key {key}{hint}"
            )
    return out


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    table = rules()
    by_env = {env_name(n): n for n in table}
    out: dict[str, Any] = {}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        if var in by_env:
            name = by_env[var]
            out[name] = _check(table[name], value, f"env {var}", raw_text=True)
        elif var.endswith("_FILE") and var[: -len("_FILE")] in by_env:
            name = by_env[var[: -len("_FILE")]]
            try:
                text = Path(value).read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(
                    f"invalid setting {name} (env {var}): expected a readable file holding "
                    f"the value, got {value} ({getattr(exc, 'strerror', None) or exc})"
                ) from None
            out[name] = _check(table[name], text, f"env {var}", raw_text=True)
        elif var in OTHER_ENV or var.startswith(OTHER_ENV_PREFIXES):
            continue
        else:
            hint = _did_you_mean(var, sorted(by_env))
            raise SettingsError(
                f"invalid setting {var} (environment): expected the variable of a setting "
                f"(docs/configuration.md), got an unknown SHOPEVENTS_ name{hint}"
            )
    return out


def _flag_values(values: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    """Flat (`"ingest.max_events"`) or nested (`{"ingest": {...}}`) values; None is unset."""
    table = rules()
    out: dict[str, Any] = {}

    def walk(prefix: str, items: Mapping[str, Any]) -> None:
        for key, value in items.items():
            name = prefix + key
            if isinstance(value, Mapping) and name in _sections():
                walk(name + ".", value)
            elif value is not None:
                where = source or f"flag {FLAGS.get(name, name)}"
                if name not in table:
                    raise SettingsError(f"invalid setting {name} ({where}): no such setting")
                out[name] = _check(table[name], value, where)

    walk("", values)
    return out


def _build(values: Mapping[str, Any], base: Settings | None = None) -> Settings:
    data: dict[str, Any] = msgspec.to_builtins(base) if base is not None else {}
    for name, value in values.items():
        if "." in name:
            section, key = name.split(".", 1)
            data.setdefault(section, {})[key] = value
        else:
            data[name] = value
    return msgspec.convert(data, Settings, strict=False)


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str | None = None,
) -> Settings:
    """Build the settings: defaults, then a TOML file, then SHOPEVENTS_* variables, then flags
    (`overrides`, by name, flat or nested; None leaves a setting alone). Every value from every
    source is checked against its setting's rule; SettingsError says which and why."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or env.get("SHOPEVENTS_CONFIG")
    if path:
        values.update(_file_values(path))
    values.update(_env_values(env))
    if overrides:
        values.update(_flag_values(overrides, overrides_source))
    return _build(values)


def override(settings: Settings, values: Mapping[str, Any], source: str | None = None) -> Settings:
    """`settings` with some values replaced (a command's flags), checked like every other
    source; None leaves a setting alone."""
    return _build(_flag_values(values, source), settings)


def _docstrings(cls: type) -> dict[str, str]:
    """Each field's docstring (the string right under it), whitespace folded."""
    tree = ast.parse(textwrap.dedent(pyinspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            out[node.target.id] = " ".join(nxt.value.value.split())
    return out


def documented_settings() -> list[tuple[str, str, Any]]:
    """(name, doc, default) of every setting, for docs and the test that checks them."""
    return list(_documented())


@functools.cache
def _documented() -> tuple[tuple[str, str, Any], ...]:
    out: list[tuple[str, str, Any]] = []
    defaults = Settings()
    sections = _sections()
    top_docs = _docstrings(Settings)
    for f in msgspec.structs.fields(Settings):
        if f.name in sections:
            docs = _docstrings(sections[f.name])
            for g in msgspec.structs.fields(sections[f.name]):
                value = getattr(getattr(defaults, f.name), g.name)
                out.append((f"{f.name}.{g.name}", docs.get(g.name, ""), value))
        else:
            out.append((f.name, top_docs.get(f.name, ""), getattr(defaults, f.name)))
    return tuple(out)
