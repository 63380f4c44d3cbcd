"""`shopevents webhooks …`: register endpoints, watch deliveries, replay the dead letters."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import out_json, plain_text, resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.clock import to_micros
from shopevents.domain.outbox import TOPICS
from shopevents.webhooks import delivery_log, dispatch, endpoints


def _json(value: Any) -> None:
    out_json(value)  # the REST API's encoding


def _store_id(env: Env, ref: str | None) -> str:
    return str(resolve_store(env, ref).id)


def _check_endpoint(env: Env, store_id: str, endpoint_id: str | None) -> None:
    """--endpoint names one of the store's endpoints."""
    if endpoint_id is None:
        return
    found = env.read(lambda c: endpoints.get_endpoint(c, endpoint_id))
    if found is None or found.store_id != store_id:
        raise click.ClickException(
            f"no webhook endpoint {endpoint_id!r} in store {store_id} "
            f"(see `shopevents webhooks list --store {store_id}`)"
        )


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhook endpoints, their deliveries, and replay of failed or dead ones."""


@webhooks_group.command("add")
@click.argument("url")
@store_option()
@click.option(
    "--topic",
    "topics",
    multiple=True,
    required=True,
    type=click.Choice(TOPICS),
    help="A topic to deliver (repeatable).",
)
@click.option("--description", default="", help="A note shown next to the endpoint.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object with the id and the secret."
)
@pass_env
def add(
    env: Env,
    url: str,
    store_ref: str | None,
    topics: tuple[str, ...],
    description: str,
    as_json: bool,
) -> None:
    """Register an endpoint URL for a store; prints its id and signing secret (shown once)."""
    env.require_migrated()
    store_id = _store_id(env, store_ref)
    try:
        url, clean_topics, description = endpoints.validate(
            url,
            list(topics),
            description,
            allow_private=env.settings.webhooks.allow_private_addresses,
        )
    except endpoints.ValidationErrors as exc:
        raise click.ClickException(f"cannot add {url}: {exc}") from None
    try:
        endpoint, secret = env.write(
            lambda conn, now: endpoints.create_endpoint(
                conn,
                store_id,
                url,
                clean_topics,
                now,
                description=description,
                allow_private=env.settings.webhooks.allow_private_addresses,
                max_endpoints=env.settings.webhooks.max_endpoints_per_store,
            )
        )
    except endpoints.EndpointLimitError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        _json({**endpoints.endpoint_view(endpoint), "secret": secret})
        return
    click.echo(f"endpoint: {endpoint.id}")
    click.echo(f"url:      {endpoint.url}")
    click.echo(f"topics:   {', '.join(endpoint.topics)}")
    click.echo(f"secret:   {secret}   (shown once; the receiver verifies signatures with it)")


@webhooks_group.command("list")
@store_option()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, store_ref: str | None, as_json: bool) -> None:
    """The store's endpoints with their delivery counts and success rate."""
    env.require_migrated()
    store_id = _store_id(env, store_ref)
    now = to_micros(env.clock.now())
    items = env.read(lambda c: endpoints.list_endpoints(c, store_id, now))
    if as_json:
        _json(items)
        return
    if not items:
        click.echo("no webhook endpoints")
        return
    for it in items:
        s = it["stats"]
        rate = "-" if s["successRate"] is None else f"{s['successRate'] * 100:.1f}%"
        state = "" if it["enabled"] else "  (paused)"
        click.echo(f"{it['id']}  {it['url']}{state}")
        click.echo(
            f"    topics: {', '.join(it['topics'])}\n"
            f"    pending {s['pending']}  delivered {s['delivered']}  failed {s['failed']}  "
            f"dead {s['dead']}  success {rate}"
        )


@webhooks_group.command("remove")
@click.argument("endpoint_id")
@pass_env
def remove(env: Env, endpoint_id: str) -> None:
    """Delete an endpoint with its deliveries and their log."""
    env.require_migrated()
    if not env.write(lambda conn, now: endpoints.remove_endpoint(conn, endpoint_id)):
        raise click.ClickException(
            f"no webhook endpoint {endpoint_id!r} (see `shopevents webhooks list`)"
        )
    click.echo(f"removed {endpoint_id}")


@webhooks_group.command("ping")
@click.argument("endpoint_id")
@click.option("--queue-only", is_flag=True, help="Queue it for the worker instead of sending now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_env
def ping(env: Env, endpoint_id: str, queue_only: bool, as_json: bool) -> None:
    """Send a `ping` delivery to an endpoint now and show what it answered."""
    env.require_migrated()
    endpoint = env.read(lambda c: endpoints.get_endpoint(c, endpoint_id))
    if endpoint is None:
        raise click.ClickException(
            f"no webhook endpoint {endpoint_id!r} (see `shopevents webhooks list`)"
        )
    did = env.write(
        lambda conn, now: dispatch.enqueue_ping(conn, endpoint.id, endpoint.store_id, now)
    )
    status: str | None = "pending"
    if not queue_only:
        from shopevents.webhooks.worker import deliver_now

        conn = env.db.connect()
        try:
            status = deliver_now(conn, env.clock, env.settings, did) or "pending"
        finally:
            conn.close()
    log = env.read(lambda c: delivery_log.delivery_attempts(c, did))
    last = log[-1] if log else None
    if as_json:
        _json({"deliveryId": did, "status": status, "attempt": last})
        return
    click.echo(f"delivery {did}: {status}")
    if last is not None:
        code = last["statusCode"] if last["statusCode"] is not None else "-"
        click.echo(f"    HTTP {code} in {_ms(last['latencyMs'])}" + _error_suffix(last["error"]))
    elif status == "pending":
        click.echo("    queued: the worker sends it")


def _ms(latency: Any) -> str:
    return "- ms" if latency is None else f"{plain_text(latency)} ms"


def _error_suffix(error: str | None) -> str:
    if not error or (error.startswith("HTTP ") and (error[5:].isascii() and error[5:].isdigit())):
        return ""
    return f"  ({error})"


@webhooks_group.command("deliveries")
@store_option()
@click.option("--endpoint", "endpoint_id", default=None, help="Only this endpoint's.")
@click.option("--status", type=click.Choice(delivery_log.STATUSES), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def deliveries_(
    env: Env,
    store_ref: str | None,
    endpoint_id: str | None,
    status: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The store's deliveries, newest first (pending, delivered, failed, dead)."""
    env.require_migrated()
    store_id = _store_id(env, store_ref)
    _check_endpoint(env, store_id, endpoint_id)
    now = to_micros(env.clock.now())
    items = env.read(
        lambda c: delivery_log.list_deliveries(
            c, store_id, endpoint_id, status, limit=limit, now=now
        )
    )
    if as_json:
        _json(items)
        return
    if not items:
        click.echo("no deliveries" + (f" with status {status}" if status else ""))
        return
    for d in items:
        code = d["lastStatusCode"] if d["lastStatusCode"] is not None else "-"
        when = d["nextAttemptAt"] if d["status"] == "pending" else d["finishedAt"]
        click.echo(
            f"{d['id']}  {d['status']:<9}  {d['topic']:<18}  attempts {d['attempts']}  "
            f"last HTTP {code}  {when or ''}{_error_suffix(d['lastError'])}"
        )


@webhooks_group.command("attempts")
@click.argument("delivery_id")
@click.option("--json", "as_json", is_flag=True, help="Print the delivery and its attempts.")
@pass_env
def attempts(env: Env, delivery_id: str, as_json: bool) -> None:
    """One delivery's attempts: time, HTTP status, latency, error, trimmed response."""
    env.require_migrated()
    now = to_micros(env.clock.now())
    found = env.read(lambda c: delivery_log.get_delivery(c, delivery_id, now=now))
    if found is None:
        raise click.ClickException(
            f"no webhook delivery {delivery_id!r} (see `shopevents webhooks deliveries`)"
        )
    if as_json:
        _json(found)
        return
    click.echo(f"{found['id']}  {found['status']}  {found['topic']}  to {found['endpointId']}")
    for a in found["attemptLog"]:
        code = a["statusCode"] if a["statusCode"] is not None else "-"
        click.echo(
            f"  #{a['attempt']}  {a['at']}  HTTP {code}  {_ms(a['latencyMs'])}  {a['outcome']}"
            + _error_suffix(a["error"])
        )
        if a["response"]:
            click.echo(f"      {a['response'][:200]!r}")


@webhooks_group.command("replay")
@click.argument("delivery_id", required=False)
@click.option("--dead", is_flag=True, help="Replay every dead delivery of --store.")
@click.option("--failed", is_flag=True, help="Replay every failed delivery of --store.")
@store_option(note=" With --dead or --failed; may be left out when there is only one store.")
@click.option("--endpoint", "endpoint_id", default=None, help="Only this endpoint's.")
@pass_env
def replay(
    env: Env,
    delivery_id: str | None,
    dead: bool,
    failed: bool,
    store_ref: str | None,
    endpoint_id: str | None,
) -> None:
    """Re-queue a failed or dead delivery (or all dead/failed ones of a store) with a fresh
    attempt count and the same delivery id."""
    env.require_migrated()
    if delivery_id is not None:
        if dead or failed:
            raise click.UsageError("give a DELIVERY_ID or --dead/--failed, not both")
        before = env.write(lambda conn, now: delivery_log.replay(conn, delivery_id, now))
        if before is None:
            raise click.ClickException(
                f"no webhook delivery {delivery_id!r} (see `shopevents webhooks deliveries`)"
            )
        if before not in ("failed", "dead"):
            raise click.ClickException(
                f"delivery {delivery_id} is {before}; only failed or dead ones are replayed"
            )
        click.echo(f"re-queued {delivery_id} (was {before})")
        return
    if not (dead or failed):
        raise click.UsageError("give a DELIVERY_ID, or --dead and/or --failed with --store")
    store_id = _store_id(env, store_ref)
    _check_endpoint(env, store_id, endpoint_id)
    statuses = tuple(s for s, on in (("dead", dead), ("failed", failed)) if on)
    count = env.write(
        lambda conn, now: delivery_log.replay_all(
            conn, store_id, now, statuses=statuses, endpoint_id=endpoint_id
        )
    )
    click.echo(f"re-queued {count} deliver{'y' if count == 1 else 'ies'}")
