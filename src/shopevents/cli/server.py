"""The commands that run the server and its database: `migrate`, `serve`, `worker`; and
`run_server`, which `collect` (cluster mode) runs too."""

from __future__ import annotations

import asyncio
import errno
import functools
import gc
import importlib
import socket
from typing import Any

import click
import msgspec

from shopevents.cli import jetstream
from shopevents.cli.env import Env, pass_env
from shopevents.config import SettingsError, override
from shopevents.context import DEMO_STORE_NAME
from shopevents.storage import stores
from shopevents.storage.database import Conn

LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


@click.command()
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


@click.command()
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

        jetstream.require_postgres(env)
        ready += f", {jetstream.check_stream(settings)}"
        c = settings.cluster
        intake = functools.partial(
            ClusterIntake,
            urls=c.nats_urls,
            prefix=c.prefix,
            publish_timeout=c.publish_timeout_seconds,
        )
    app = create_app(settings, worker=False if no_worker else None, intake=intake, ctx=env.ctx)
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
    for name in ("uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl"):
        importlib.import_module(name)  # what `uvicorn.run` imports, so that it is frozen too
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def print_demo(env: Env) -> None:

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


@click.command()
@click.option("--once", is_flag=True, help="Run every step until nothing is due, then exit.")
@pass_env
def worker(env: Env, once: bool) -> None:
    """Run the worker loop on its own (abandonment, erasure, retention, webhook delivery,
    report rollups)."""
    from shopevents.worker.loop import run_until_idle, run_until_signalled

    env.require_migrated(wait=True)
    ctx = env.ctx
    try:
        asyncio.run(run_until_idle(ctx) if once else run_until_signalled(ctx))
    except KeyboardInterrupt:
        pass
    finally:
        env.close()
