"""What cluster mode's commands share: the NATS options, the settings they change, the
checks before a collector or processor starts (PostgreSQL, the stream), and NATS failures as
one line saying what to do (docs/scaling.md).

NATS's client is imported by the functions that talk to NATS, so that the other commands do
not load it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from shopevents.cli.env import Env
from shopevents.cluster import messages
from shopevents.config import Settings, SettingsError, override
from shopevents.storage import diagnosis

if TYPE_CHECKING:
    from nats.js import JetStreamContext

T = TypeVar("T")
# How long a command waits for a JetStream API answer.
API_TIMEOUT_SECONDS = 5.0
NATS_HINT = "check --nats / SHOPEVENTS_CLUSTER_NATS_URLS"


def nats_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--prefix",
        default=None,
        help="Names the stream, consumers and buckets (default: the cluster.prefix setting, "
        "shopevents).",
    )(fn)
    return click.option(
        "--nats",
        "nats_urls",
        default=None,
        metavar="URL[,URL...]",
        help="NATS servers (default: the cluster.nats_urls setting, nats://127.0.0.1:4222).",
    )(fn)


def cluster_settings(env: Env, **flags: Any) -> Settings:
    """The settings with the cluster flags given (`nats_urls`, `prefix`, `replicas`), checked
    by the settings' rules: a bad value stops the command, naming the flag."""
    values = {f"cluster.{k}": v for k, v in flags.items()}
    try:
        env.settings = override(env.settings, values)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    return env.settings


def require_postgres(env: Env) -> None:
    """The database answers, is migrated, and is PostgreSQL (cluster mode's state store)."""
    if not diagnosis.holds_cluster_state(env.db):
        raise click.ClickException(
            f"cluster mode needs PostgreSQL, and {env.where} is SQLite: give "
            "--database postgresql://USER@HOST:5432/DBNAME (every collector and processor "
            "uses the same database), or run `shopevents serve` for one machine"
        )


def failure(exc: BaseException, settings: Settings) -> click.ClickException:
    """The one line for a NATS failure."""
    import nats.errors
    from nats.js.errors import APIError

    from shopevents.cluster import streams

    c = settings.cluster
    urls = c.nats_urls
    if isinstance(exc, streams.NotInitialised):
        return click.ClickException(
            f"NATS at {urls} has no stream {exc}: run `shopevents cluster init --nats {urls}"
            + (f" --prefix {c.prefix}" if c.prefix != "shopevents" else "")
            + "` first"
        )
    if isinstance(exc, nats.errors.NoServersError | OSError):
        return click.ClickException(
            f"cannot reach NATS at {urls}: start nats-server with JetStream "
            f"(`nats-server -js`, docs/scaling.md), or {NATS_HINT}"
        )
    if isinstance(exc, nats.errors.NoRespondersError):
        return click.ClickException(
            f"NATS at {urls} does not answer for JetStream: start nats-server with -js "
            f"(for --replicas {c.replicas}, a cluster of {c.replicas} servers), or {NATS_HINT}"
        )
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError):
        return click.ClickException(
            f"JetStream at {urls} did not answer within {API_TIMEOUT_SECONDS:g} s: check that "
            "a majority of its servers are up and connected to each other"
        )
    if isinstance(exc, APIError):
        said = exc.description or str(exc)
        if exc.err_code in (10074, 10005, 10023) or "replica" in said or "peers" in said:
            return click.ClickException(
                f"JetStream at {urls} cannot place {c.replicas} replicas ({said}): run a "
                f"JetStream cluster of at least {c.replicas} servers, or give --replicas 1 "
                "for a single server"
            )
        return click.ClickException(f"JetStream at {urls} refused: {said}")
    return click.ClickException(f"NATS at {urls}: {exc or type(exc).__name__}")


def with_jetstream(settings: Settings, fn: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run `fn` on a JetStream connection made for it; NATS failures as one line."""
    import nats.errors

    from shopevents.cluster import nats as cluster_nats
    from shopevents.cluster import streams

    async def run() -> T:
        nc = await cluster_nats.connect(
            settings.cluster.nats_urls, name="shopevents cli", persistent=False
        )
        try:
            return await fn(nc.jetstream(timeout=API_TIMEOUT_SECONDS))
        finally:
            await nc.close()

    try:
        return asyncio.run(run())
    except (nats.errors.Error, streams.NotInitialised, TimeoutError, OSError) as exc:
        raise failure(exc, settings) from None


def check_stream(settings: Settings) -> str:
    """Before `collect` or `process` starts: the stream exists. What to say of it."""
    from shopevents.cluster import streams

    prefix = settings.cluster.prefix
    parts = with_jetstream(settings, lambda js: streams.partitions(js, prefix))
    return (
        f"NATS {settings.cluster.nats_urls}, stream {messages.stream_name(prefix)} "
        f"({parts} partitions)"
    )
