"""Cluster mode's commands: `cluster init` (the stream, consumers and buckets on NATS
JetStream), `collect` (a collector) and `process` (a processor) (docs/scaling.md)."""

from __future__ import annotations

import click

from shopevents.cli.env import Env, pass_env
from shopevents.cli.jetstream import (
    check_stream,
    cluster_settings,
    nats_options,
    require_postgres,
    with_jetstream,
)
from shopevents.cli.server import run_server, server_options


@click.group("cluster")
def cluster_group() -> None:
    """Cluster mode: the NATS JetStream stream between collectors and processors."""


@cluster_group.command("init")
@nats_options
@click.option(
    "--replicas",
    type=int,
    default=None,
    help="Copies of the stream and buckets, on as many NATS servers (default: the "
    "cluster.replicas setting, 3).",
)
@pass_env
def cluster_init(env: Env, nats_urls: str | None, prefix: str | None, replicas: int | None) -> None:
    """Create the intake stream, its consumers and the buckets (again: changes nothing)."""
    from shopevents.cluster import streams

    settings = cluster_settings(env, nats_urls=nats_urls, prefix=prefix, replicas=replicas)
    require_postgres(env)
    c = settings.cluster
    layout = streams.Layout(
        prefix=c.prefix, partitions=c.partitions, replicas=c.replicas, max_bytes=c.max_stream_bytes
    )
    said = with_jetstream(settings, lambda js: streams.init(js, layout))
    click.echo(f"NATS: {c.nats_urls}", err=True)
    for line in said:
        click.echo(line)


@click.command("process")
@nats_options
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not run the worker loop (abandonment, webhooks, retention) in this process.",
)
@pass_env
def process(env: Env, nats_urls: str | None, prefix: str | None, no_worker: bool) -> None:
    """Run a processor: apply the intake stream's requests to PostgreSQL, and the worker."""
    settings = cluster_settings(env, nats_urls=nats_urls, prefix=prefix)
    env.require_migrated(wait=True)
    require_postgres(env)
    where = check_stream(settings)
    from shopevents.cluster import processor

    click.echo(f"shopevents process: database {env.where}, {where}", err=True)
    c = settings.cluster
    try:
        processor.Processor(
            settings,
            env.db,
            env.clock,
            nats_urls=c.nats_urls,
            prefix=c.prefix,
            worker=not no_worker,
        ).run_until_signalled()
    except KeyboardInterrupt:
        pass


@click.command()
@nats_options
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
    cluster_settings(env, nats_urls=nats_urls, prefix=prefix)
    run_server(env, host, port, log_level, access_log, no_worker=True, cluster=True)
