"""The command line: thin commands that call the package."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

import click
import msgspec

from shopevents import cluster_cli
from shopevents.cli_common import (
    Env,
    Group,
    first_line,
    open_output,
    out_json,
    plain_text,
    resolve_store,
    store_option,
)
from shopevents.clock import from_micros
from shopevents.config import Settings, SettingsError, load_settings, override
from shopevents.domain import store_settings
from shopevents.storage import stores
from shopevents.storage.database import Conn
from shopevents.storage.reads import iso

pass_env = click.make_pass_decorator(Env)
LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


def _settings_error(exc: Exception, config: str | None) -> click.ClickException:
    import tomllib

    if isinstance(exc, tomllib.TOMLDecodeError) or isinstance(
        exc.__cause__ or exc.__context__, tomllib.TOMLDecodeError
    ):
        return click.ClickException(
            f"{exc}: the settings file {config} is not valid TOML; fix it "
            "(docs/configuration.md shows the format), or leave out --config / SHOPEVENTS_CONFIG"
        )
    if isinstance(exc, OSError):
        name = exc.filename or config
        return click.ClickException(
            f"cannot read the settings file {name} ({exc.strerror or exc}): check the path "
            "given with --config / SHOPEVENTS_CONFIG (or a SHOPEVENTS_*_FILE variable)"
        )
    return click.ClickException(
        f"{exc} (see docs/configuration.md for the settings and their values)"
    )


_SOURCES = {
    click.core.ParameterSource.COMMANDLINE: "from --database",
    click.core.ParameterSource.ENVIRONMENT: "from SHOPEVENTS_DATABASE_URL",
}


@click.group(cls=Group)
@click.version_option(package_name="shopevents", message="shopevents %(version)s")
@click.option(
    "--database",
    "database",
    envvar="SHOPEVENTS_DATABASE_URL",
    help="sqlite:///PATH or postgresql://... (env SHOPEVENTS_DATABASE_URL)",
)
@click.option(
    "--config",
    "config",
    envvar="SHOPEVENTS_CONFIG",
    type=click.Path(dir_okay=False),
    help="A TOML settings file (env SHOPEVENTS_CONFIG).",
)
@click.pass_context
def main(click_ctx: click.Context, database: str | None, config: str | None) -> None:
    """shopevents: a self-hosted eCommerce event backend speaking Connectif's protocol."""
    try:
        settings = load_settings(config_file=config, overrides={"database_url": database})
    except (ValueError, OSError) as exc:  # SettingsError and TOMLDecodeError are ValueErrors
        raise _settings_error(exc, config) from None
    source = _SOURCES.get(click_ctx.get_parameter_source("database"))  # type: ignore[arg-type]
    if source is None:
        source = (
            "from the settings"
            if settings.database_url != Settings().database_url
            else ("the default, in the working directory")
        )
    env = Env(settings, url_source=source)
    env.check_url()
    click_ctx.obj = env


@main.command()
@pass_env
def migrate(env: Env) -> None:
    """Create the database's tables, or apply the migrations not applied yet."""
    done = env.database().migrate()
    click.echo(f"database: {env.where}", err=True)
    click.echo("applied: " + ", ".join(done) if done else "the database is up to date")


def server_options(fn: Any) -> Any:
    """The options of the commands that run the HTTP server (`serve`, `collect`)."""
    for option in reversed(
        [
            click.option("--host", default=None, help="Address to listen on (default 127.0.0.1)."),
            click.option(
                "--port", default=None, type=int, help="Port to listen on (default 8000)."
            ),
            click.option(
                "--log-level",
                type=click.Choice(LOG_LEVELS, case_sensitive=False),
                default=None,
                help="What the server logs: debug, info, warning, error, critical (default: the "
                "log_level setting, info).",
            ),
            click.option(
                "--access-log/--no-access-log",
                default=None,
                help="Log one line per HTTP request (default: the access_log setting, off).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


@main.command()
@server_options
@click.option("--no-worker", is_flag=True, help="Do not run the worker loop inside the server.")
@click.option(
    "--demo", is_flag=True, help="Make sure the demo store exists and print how to use it."
)
@pass_env
def serve(
    env: Env,
    host: str | None,
    port: int | None,
    no_worker: bool,
    demo: bool,
    log_level: str | None,
    access_log: bool | None,
) -> None:
    """Run the HTTP server (ingest, client script, REST API, dashboard) and the worker."""
    run_server(env, host, port, log_level, access_log, no_worker=no_worker, demo=demo)


@main.command()
@cluster_cli.nats_options
@server_options
@pass_env
def collect(
    env: Env,
    nats_urls: str | None,
    prefix: str | None,
    host: str | None,
    port: int | None,
    log_level: str | None,
    access_log: bool | None,
) -> None:
    """Run a collector (cluster mode): `serve` without the worker, whose ingest endpoint
    publishes each request to NATS JetStream for processors to apply."""
    cluster_cli.cluster_settings(env, nats_urls=nats_urls, prefix=prefix)
    run_server(env, host, port, log_level, access_log, no_worker=True, cluster=True)


def run_server(
    env: Env,
    host: str | None,
    port: int | None,
    log_level: str | None,
    access_log: bool | None,
    *,
    no_worker: bool,
    demo: bool = False,
    cluster: bool = False,
) -> None:
    """Serve the app until stopped; `cluster`: with cluster mode's intake (a collector)."""
    from shopevents.app import create_app
    from shopevents.server import Server, uvicorn_config

    try:  # the flags are checked by the settings' rules, like the file and the environment
        flagged = override(env.settings, {"host": host, "port": port})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    settings = msgspec.structs.replace(
        flagged,
        log_level=(log_level or env.settings.log_level).lower(),
        access_log=env.settings.access_log if access_log is None else access_log,
    )
    env.settings = settings
    _check_port(settings.host, settings.port)
    env.require_migrated(wait=True)
    if demo:
        print_demo(env)
    with_worker = settings.worker.enabled and not no_worker
    ready = f"database {env.where}, worker {'on' if with_worker else 'off'}"
    intake = None
    if cluster:
        from shopevents.cluster.collector import ClusterIntake

        cluster_cli.require_postgres(env)
        ready += f", {cluster_cli.check_stream(settings)}"
        c = settings.cluster
        intake = functools.partial(
            ClusterIntake,
            urls=c.nats_urls,
            prefix=c.prefix,
            publish_timeout=c.publish_timeout_seconds,
        )
    app = create_app(
        settings, env.db, env.clock, worker=False if no_worker else None, intake=intake
    )
    config = uvicorn_config(app, settings, log_level=settings.log_level)
    settle_gc()
    server = Server(config, ready=ready)
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl+C: uvicorn has stopped cleanly
        return
    if not server.started:
        raise SystemExit(1)  # it could not listen (uvicorn said why)


def _check_port(host: str, port: int) -> None:
    """Refuse at once, with what to do, an address the server could not listen on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host!r} ({exc.strerror or exc}): give an address of this "
            "machine with --host (or the host setting), e.g. 127.0.0.1 or 0.0.0.0"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            import errno

            hint = (
                "another process is using it; stop it, or choose another --port (or the port "
                "setting)"
                if exc.errno == errno.EADDRINUSE
                else "give an address of this machine with --host (or the host setting), "
                "e.g. 127.0.0.1 or 0.0.0.0, and a port from 1024 unless run as root"
            )
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): {hint}"
            ) from None


def settle_gc() -> None:
    """Before serving: what exists now (modules, settings, the app) lives as long as the
    process, so the cyclic collector stops walking it (`gc.freeze`), and it runs its passes
    after 50,000 new objects instead of 700. Under load, its full passes otherwise paused
    the event loop for ~16 ms about once a second, finding nothing to free."""
    import gc
    import importlib

    for name in ("uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl"):
        importlib.import_module(name)  # what `uvicorn.run` imports, so that it is frozen too
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def print_demo(env: Env) -> None:
    from shopevents.context import DEMO_STORE_NAME

    base = env.settings.base_url

    def ensure(conn: Conn, now: int) -> tuple[stores.StoreRecord, tuple[str, str] | None]:
        rec = stores.find_store_by_name(conn, DEMO_STORE_NAME)
        if rec is not None:
            return rec, None
        rec = stores.create_store(conn, DEMO_STORE_NAME, now=now)
        return rec, stores.create_api_key(conn, rec.id, now=now, name="demo")

    rec, key = env.write(ensure)
    ingest = f"{base}/integration-type/system/scrippet-notification/{rec.id}"
    click.echo("")
    click.echo(f"  shopevents is starting at {base}  (database: {env.settings.database_url})")
    click.echo(f"  demo store id: {rec.id}")
    if key:
        click.echo(f"  demo API key:  {key[0]}:{key[1]}   (shown once; keep it for the REST API)")
    else:
        click.echo(
            "  demo API key:  shown when the store was made; a new one: "
            f"shopevents stores keys {rec.id} --create NAME"
        )
    click.echo(f"  ingest URL:    {ingest}")
    click.echo(f"  demo shop:     {base}/demo/")
    click.echo(f"  dashboard:     {base}/  (make an account with `shopevents users create NAME`)")
    click.echo("")
    click.echo("  Post the seed article's purchase (from the repository root):")
    click.echo(
        f"    curl -s -H 'Content-Type: text/plain' --data-binary @docs/examples/seed-purchase.json {ingest}"
    )
    click.echo("")


@main.command()
@click.option("--once", is_flag=True, help="Run every step until nothing is due, then exit.")
@pass_env
def worker(env: Env, once: bool) -> None:
    """Run the worker loop on its own (abandonment, erasure, retention, webhook delivery,
    report rollups)."""
    import asyncio

    from shopevents.context import AppContext
    from shopevents.worker.loop import run_until_idle, run_until_signalled

    env.require_migrated(wait=True)
    ctx = AppContext(env.settings, env.db, env.clock)
    try:
        asyncio.run(run_until_idle(ctx) if once else run_until_signalled(ctx))
    except KeyboardInterrupt:
        pass
    finally:
        ctx.close()


# --- stores ---------------------------------------------------------------------------


@main.group("stores")
def stores_group() -> None:
    """Create, list and change stores."""


def _store_settings(given: dict[str, Any], hints: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings given in REST names -> columns, by the rules of domain/store_settings.py (the
    dashboard and the REST API use them too); a refusal is one line naming the option."""
    try:
        return store_settings.parse_changes(given)
    except store_settings.SettingError as exc:
        hint = (hints or {}).get(exc.name) or store_settings.SETTINGS[exc.name].option
        raise click.BadParameter(exc.message, param_hint=hint) from None


@stores_group.command("create")
@click.argument("name")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    help="An authorised domain (repeatable): a host name (shop.example, subdomains included) "
    "or a URL prefix (https://shop.example/es/). None: any origin.",
)
@click.option("--currency", default="EUR", show_default=True)
@click.option("--timezone", default="UTC", show_default=True)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object with storeId, apiKeyId, apiKeySecret.",
)
@pass_env
def stores_create(
    env: Env, name: str, domains: tuple[str, ...], currency: str, timezone: str, as_json: bool
) -> None:
    """Create a store and its first API key."""
    env.require_migrated()
    given = {"name": name, "currency": currency, "timezone": timezone, "domains": list(domains)}
    checked = _store_settings(given, {"name": "NAME"})

    def write(conn: Conn, now: int) -> tuple[stores.StoreRecord, str, str]:
        rec = stores.create_store(
            conn,
            checked["name"],
            now=now,
            currency=checked["currency"],
            timezone=checked["timezone"],
            domains=checked["domains"],
        )
        key_id, secret = stores.create_api_key(conn, rec.id, now=now)
        return rec, key_id, secret

    same = [s.id for s in env.read(stores.list_stores) if s.name == checked["name"]]
    rec, key_id, secret = env.write(write)
    if same:
        click.echo(
            f"note: the store {', '.join(same)} has this name too; name these stores by id "
            "(--store ID), or rename one with `shopevents stores update`",
            err=True,
        )
    if as_json:
        out_json({"storeId": rec.id, "apiKeyId": key_id, "apiKeySecret": secret})
        return
    click.echo(f"store:      {rec.id}  ({rec.name})")
    click.echo(f"api key:    {key_id}:{secret}")
    click.echo("            (the secret is shown once; keep it)")
    click.echo(
        f"ingest URL: {env.settings.base_url}/integration-type/system/scrippet-notification/{rec.id}"
    )


@stores_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (the REST API's shape).")
@pass_env
def stores_list(env: Env, as_json: bool) -> None:
    """List stores."""
    from shopevents.api.carts_routes import store_json

    rows = env.read(stores.list_stores)
    if as_json:
        out_json([store_json(r) for r in rows])
        return
    if not rows:
        click.echo("no stores yet: create one with `shopevents stores create NAME`", err=True)
    for r in rows:
        click.echo(
            f"{r.id}  {r.name}  {r.currency}  {r.timezone}  domains={','.join(r.domains) or '*'}"
        )


@stores_group.command("update")
@click.argument("store_id", metavar="STORE")
@click.option("--name")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    help="Replace the authorised domains (repeatable): host names or URL prefixes.",
)
@click.option("--clear-domains", is_flag=True, help="Allow any origin.")
@click.option("--currency")
@click.option("--reporting-currency", help="The currency of the store's reports (ISO 4217).")
@click.option("--timezone")
@click.option(
    "--abandon-after",
    help="Abandonment delay, 1 s to 90 d: 45s, 30m, 2h, 1d (a bare number is seconds).",
)
@click.option(
    "--tag-mode",
    metavar="on|off",
    help="autoSendEventsOnInit: read the HTML tags on load.",
)
@click.option("--tracking", metavar="on|off", help="Web tracking on or off.")
@click.option(
    "--exclude",
    "excluded",
    multiple=True,
    help="A URL regex of pages not to track (repeatable; replaces the list).",
)
@click.option(
    "--consent-required",
    metavar="on|off",
    help="On: record nothing for a request without the visitor's consent (docs/privacy.md).",
)
@click.option(
    "--honour-gpc",
    metavar="on|off",
    help="On: a browser's Global Privacy Control or Do Not Track signal refuses tracking.",
)
@click.option(
    "--keep-bots",
    metavar="on|off",
    help="On: count crawlers and headless browsers like people (docs/privacy.md#bots).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
def stores_update(
    env: Env,
    store_id: str,
    name: str | None,
    domains: tuple[str, ...],
    clear_domains: bool,
    currency: str | None,
    reporting_currency: str | None,
    timezone: str | None,
    abandon_after: str | None,
    tag_mode: str | None,
    tracking: str | None,
    excluded: tuple[str, ...],
    consent_required: str | None,
    honour_gpc: str | None,
    keep_bots: str | None,
    as_json: bool,
) -> None:
    """Change a store's settings."""
    store_id = resolve_store(env, store_id).id
    given: dict[str, Any] = {
        "name": name,
        "domains": [] if clear_domains else list(domains) if domains else None,
        "currency": currency,
        "reportingCurrency": reporting_currency,
        "timezone": timezone,
        "abandonAfterSeconds": abandon_after,
        "tagMode": tag_mode,
        "trackingEnabled": tracking,
        "keepBots": keep_bots,
        "consentRequired": consent_required,
        "honourGpc": honour_gpc,
        "excludedPaths": list(excluded) or None,
    }
    changes = _store_settings({k: v for k, v in given.items() if v is not None})
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    rec = env.write(lambda conn, now: stores.update_store(conn, store_id, changes))
    if rec is None:
        raise click.ClickException(f"no store has the id {store_id!r}")
    if as_json:
        from shopevents.api.carts_routes import store_json

        out_json(store_json(rec))
    else:
        click.echo(f"updated {rec.id}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


@stores_group.command("snippet")
@click.argument("store_id", metavar="STORE")
@click.option(
    "--base-url", help="The URL shopevents is reached at (default: the configured public URL)."
)
@pass_env
def stores_snippet(env: Env, store_id: str, base_url: str | None) -> None:
    """Print the loader snippet to paste into every page of the store."""
    from shopevents.client.snippet import loader_snippet

    rec = resolve_store(env, store_id)
    click.echo(loader_snippet(rec.id, (base_url or env.settings.base_url).rstrip("/")))


@stores_group.command("keys")
@click.argument("store_id", metavar="STORE")
@click.option(
    "--create", "create_name", help="Create a key with this name and print its secret once."
)
@click.option("--revoke", "revoke_id", help="Revoke this key id.")
@pass_env
def stores_keys(env: Env, store_id: str, create_name: str | None, revoke_id: str | None) -> None:
    """List, create or revoke a store's API keys."""
    store_id = resolve_store(env, store_id).id
    if create_name:
        key_id, secret = env.write(
            lambda c, now: stores.create_api_key(c, store_id, now=now, name=create_name)
        )
        out_json({"apiKeyId": key_id, "apiKeySecret": secret})
        return
    if revoke_id:
        ok = env.write(lambda c, now: stores.revoke_api_key(c, store_id, revoke_id, now=now))
        if not ok:
            raise click.ClickException(f"no active key {revoke_id!r} in store {store_id!r}")
        click.echo(f"revoked {revoke_id}")
        return
    for k in env.read(lambda c: stores.list_api_keys(c, store_id)):
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id}  {k.name}  {state}  created {from_micros(k.created_at).isoformat()}")


@stores_group.group("write-keys")
def write_keys_group() -> None:
    """Create, list and revoke a store's Segment write keys (docs/segment.md)."""


@write_keys_group.command("create")
@click.argument("store_id", metavar="STORE")
@click.option("--name", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True, help='Print {"writeKey": "..."}.')
@pass_env
def write_keys_create(env: Env, store_id: str, name: str, as_json: bool) -> None:
    """Create a write key and print it once (only its hash is stored)."""
    store_id = resolve_store(env, store_id).id
    key_id, key = env.write(lambda c, now: stores.create_write_key(c, store_id, now=now, name=name))
    if as_json:
        out_json({"writeKey": key, "id": key_id})
        return
    click.echo(f"write key: {key}  (id {key_id}; shown once, keep it)")
    click.echo(f"endpoint:  {env.settings.base_url}/v1/batch")


@write_keys_group.command("list")
@click.argument("store_id", metavar="STORE")
@click.option("--json", "as_json", is_flag=True)
@pass_env
def write_keys_list(env: Env, store_id: str, as_json: bool) -> None:
    """List a store's write keys (ids and names; the keys themselves are not stored)."""
    store_id = resolve_store(env, store_id).id
    keys = env.read(lambda c: stores.list_write_keys(c, store_id))
    if as_json:
        out_json([_key_json(k) for k in keys])
        return
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        click.echo(f"{k.id}  {k.name}  {state}  created {from_micros(k.created_at).isoformat()}")


def _key_json(k: stores.WriteKey) -> dict[str, Any]:
    """A key as JSON: camelCase names and ISO 8601 times, as the REST API writes them."""
    return {
        "id": k.id,
        "storeId": k.store_id,
        "name": k.name,
        "createdAt": iso(k.created_at),
        "revokedAt": iso(k.revoked_at),
    }


@write_keys_group.command("revoke")
@click.argument("store_id", metavar="STORE")
@click.argument("key_id")
@pass_env
def write_keys_revoke(env: Env, store_id: str, key_id: str) -> None:
    """Revoke a write key: SDKs sending with it get 401 invalid_write_key."""
    store_id = resolve_store(env, store_id).id
    ok = env.write(lambda c, now: stores.revoke_write_key(c, store_id, key_id, now=now))
    if not ok:
        raise click.ClickException(f"no active write key {key_id!r} in store {store_id!r}")
    click.echo(f"revoked {key_id}")


# --- send and schema ------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.File("rb"))
@store_option()
@click.option(
    "--url", "server", help="Post to a running server at this base URL instead of writing directly."
)
@pass_env
def send(env: Env, file: Any, store_ref: str | None, server: str | None) -> None:
    """Post an ingest payload (a JSON file, or - for stdin) and print the response."""
    body = file.read()
    if server:
        _send_to(env, server, store_ref, body)
        return
    from shopevents.errors import ApiError
    from shopevents.ingest import consent, intake
    from shopevents.schema.verdicts import CheckContext, read_envelope

    try:
        store = resolve_store(env, store_ref)
    except click.UsageError:
        raise
    except click.ClickException as exc:
        # as the ingest endpoint answers it, in the error shape
        out_json(ApiError("unknown_store", f"No store has the id or name {store_ref!r}").body())
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    try:
        envelope = read_envelope(body)
        if len(envelope.events) > env.settings.ingest.max_events:
            raise ApiError("too_many_events")
        if (refused := consent.refusal(store, envelope.consent, {})) is not None:
            out_json(consent.answer(envelope, refused))  # as the endpoint: nothing written
            return
        prepared = intake.prepare(
            store,
            envelope,
            body,
            ctx=CheckContext(now=env.clock.now(), currency=store.currency, domains=store.domains),
            max_event_bytes=env.settings.ingest.max_event_bytes,
            channel="cli",
        )
    except ApiError as exc:
        out_json(exc.body())
        sys.exit(1)
    out_json(env.write(lambda conn, now: intake.apply(conn, prepared, now)))


def _send_to(env: Env, server: str, store_ref: str | None, body: bytes) -> None:
    """`send --url`: a store name is looked up in the local database when there is one;
    otherwise --store is taken as the id the server knows."""
    import httpx

    try:
        store_id = resolve_store(env, store_ref).id
    except click.ClickException:
        if store_ref is None:
            raise
        store_id = store_ref
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{server!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:8000)",
            param_hint="--url",
        )
    try:
        r = httpx.post(
            f"{base}/integration-type/system/scrippet-notification/{store_id}",
            content=body,
            headers={"Content-Type": "text/plain"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"could not reach the server at {base} ({first_line(exc)}): is `shopevents serve` "
            "running there? Start it, or fix --url"
        ) from None
    click.echo(r.text)
    if r.status_code != 200:
        click.echo(f"Error: the server answered {r.status_code}", err=True)
        sys.exit(1)


@main.group("schema")
def schema_group() -> None:
    """The JSON Schema of every model."""


@schema_group.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write to a file instead of stdout."
)
def schema_export(output: str | None) -> None:
    """Print the JSON Schema of every model, generated from the code."""
    from shopevents.schema.jsonschema import export

    text = json.dumps(export(), indent=2)
    if output:
        with open_output(output) as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)


# --- contacts and carts ----------------------------------------------------------------


@main.group("contacts")
def contacts_group() -> None:
    """Look at contacts; undo merges."""


@contacts_group.command("show")
@click.argument("email")
@store_option()
@click.option(
    "--activity",
    "activity_limit",
    default=20,
    show_default=True,
    type=click.IntRange(0, 500),
    help="How many activities to show.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
def contacts_show(
    env: Env, email: str, store_ref: str | None, activity_limit: int, as_json: bool
) -> None:
    """A contact: fields, purchase aggregates, trackers, merges and latest activity."""
    from shopevents.domain import timeline
    from shopevents.storage import reads

    store_id = resolve_store(env, store_ref).id

    def load(c: Conn) -> dict[str, Any] | None:
        contact = reads.contact_by_email(c, store_id, email)
        if contact is None:
            return None
        contact.update(reads.contact_details(c, store_id, contact["id"]))
        contact["activity"] = [
            {k: v for k, v in a.items() if k != "_at"}
            for a in timeline.page(c, store_id, contact["id"], activity_limit)
        ]
        return contact

    contact = env.read(load)
    if contact is None:
        raise click.ClickException(
            f"no contact with the e-mail {email!r} in store {store_id} "
            "(contacts are found by their exact e-mail)"
        )
    if as_json:
        out_json(contact)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    fields = Table(title=f"Contact {contact['_email']} ({contact['id']})", show_header=False)
    for key, value in contact.items():
        if key not in ("trackers", "merges", "activity"):
            fields.add_row(key, plain_text(value))
    console.print(fields)
    if contact["trackers"]:
        console.print("trackers: " + ", ".join(t["trackerId"] for t in contact["trackers"]))
    for mg in contact["merges"]:
        state = f"undone {mg['undoneAt']}" if mg["undoneAt"] else "active"
        console.print(
            f"merge {mg['mergeId']}: {mg['fromContact']} -> {mg['intoContact']} at {mg['at']} ({state})"
        )
    acts = Table(title="Latest activity")
    for col in ("date", "type", "data"):
        acts.add_column(col)
    for a in contact["activity"]:
        acts.add_row(a["date"], a["type"], plain_text(a["data"])[:80])
    console.print(acts)


@contacts_group.command("unmerge")
@click.argument("merge_id", type=int)
@store_option()
@pass_env
def contacts_unmerge(env: Env, merge_id: int, store_ref: str | None) -> None:
    """Undo a merge: the merged contact and what moved with it come back."""
    from shopevents.domain import identity

    store_id = resolve_store(env, store_ref).id
    ok = env.write(lambda c, now: identity.unmerge(c, store_id, merge_id, now))
    if not ok:
        raise click.ClickException(f"no merge {merge_id} in store {store_id} that can be undone")
    click.echo(f"merge {merge_id} undone")


@main.group("carts")
def carts_group() -> None:
    """Look at carts."""


@carts_group.command("list")
@store_option()
@click.option(
    "--status", type=click.Choice(["active", "empty", "purchased", "abandoned", "recovered"])
)
@click.option("--contact", "email", help="Only this contact's carts.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (the REST API's shape).")
@pass_env
def carts_list(
    env: Env,
    store_ref: str | None,
    status: str | None,
    email: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Carts, newest first."""
    from shopevents.storage import reads

    store_id = resolve_store(env, store_ref).id

    def load(c: Conn) -> list[dict[str, Any]]:
        contact_id = None
        if email:
            contact = reads.contact_by_email(c, store_id, email)
            if contact is None:
                return []
            contact_id = contact["id"]
        return reads.list_carts(c, store_id, status=status, contact_id=contact_id, limit=limit)

    rows = env.read(load)
    if as_json:
        out_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Carts of {store_id}" + (f" ({status})" if status else ""))
    for col in ("cartKey", "cartId", "status", "contact", "items", "total", "updated", "abandonAt"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["cartKey"],
            r["cartId"],
            r["status"],
            r["contactEmail"] or r["contactId"],
            str(r["totalQuantity"]),
            f"{r['totalPrice']} {r['currency'] or ''}",
            r["updatedAt"] or "",
            r["abandonAt"] or "",
        )
    Console().print(table)


@carts_group.command("show")
@click.argument("cart_key")
@store_option()
@pass_env
def carts_show(env: Env, cart_key: str, store_ref: str | None) -> None:
    """One cart with its lines and history (JSON)."""
    from shopevents.storage import reads

    store_id = resolve_store(env, store_ref).id
    cart = env.read(lambda c: reads.cart_by_key(c, store_id, cart_key))
    if cart is None:
        raise click.ClickException(f"no cart {cart_key!r} in store {store_id}")
    out_json(cart)


def _register() -> None:
    from shopevents.bulk_cli import import_command
    from shopevents.custom_events_cli import custom_events_group
    from shopevents.dashboard.cli import COMMANDS, report_group
    from shopevents.dashboard.sources import report_sources
    from shopevents.privacy_cli import erase_command, erasures_command, retention_command
    from shopevents.reports.cli import COMMANDS as REPORT_COMMANDS
    from shopevents.webhooks.cli import webhooks_group

    main.add_command(webhooks_group)
    main.add_command(cluster_cli.cluster_group)
    main.add_command(cluster_cli.process)
    main.add_command(import_command)
    main.add_command(custom_events_group)
    contacts_group.add_command(erase_command)
    contacts_group.add_command(erasures_command)
    stores_group.add_command(retention_command)
    report_group.add_command(report_sources)
    for command in [*COMMANDS, *REPORT_COMMANDS]:
        main.add_command(command)


_register()
