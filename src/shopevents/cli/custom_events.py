"""`shopevents custom-events create|list|delete --store ID`: a store's custom event types.

A type maps a server-side custom event's body (posted to the ingest URL with `?eventId=`,
or to `POST /api/custom-events/...`): `--contact-email` is the JSON pointer of the contact's
e-mail, each `--field NAME=/pointer` one payload field (none: the whole body is the payload).
"""

from __future__ import annotations

from typing import Any

import click
import msgspec

from shopevents.api.custom_events_routes import create_type
from shopevents.cli.common import resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.domain import custom_events
from shopevents.errors import ApiError
from shopevents.storage import custom_event_types as types


def _ready(env: Env, store_ref: str | None) -> str:
    """The store's id (named by id or exact name; left out: the only store)."""
    env.require_migrated()
    return str(resolve_store(env, store_ref).id)


def _show(t: types.CustomEventType) -> str:
    mapping = (
        ", ".join(f"{k}={v}" for k, v in t.payload.items())
        if t.payload is not None
        else "(the whole body)"
    )
    return f"{t.id}  {t.alias}  e-mail at {t.contact_email}  payload: {mapping}"


@click.group("custom-events")
def custom_events_group() -> None:
    """Custom event types: how server-side custom events are mapped onto contacts."""


@custom_events_group.command("create")
@store_option()
@click.option("--alias", required=True, help="The type's alias, unique in the store.")
@click.option(
    "--contact-email",
    required=True,
    help="JSON pointer (RFC 6901) of the contact's e-mail in the body, e.g. /email.",
)
@click.option(
    "--event-id",
    default=None,
    help="The type's id (e.g. the Connectif id a migrating store keeps); minted if left out.",
)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=/POINTER",
    help="A payload field and the JSON pointer of its value (repeatable); none keeps the whole body.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the type as one JSON object.")
@pass_env
def create(
    env: Env,
    store_ref: str | None,
    alias: str,
    contact_email: str,
    event_id: str | None,
    fields: tuple[str, ...],
    as_json: bool,
) -> None:
    """Define a custom event type."""
    store_id = _ready(env, store_ref)
    payload: dict[str, str] | None = None
    if fields:
        payload = {}
        for item in fields:
            name, sep, pointer = item.partition("=")
            if not sep:
                raise click.BadParameter(
                    f"expected NAME=/pointer, such as site=/site; received {item!r}",
                    param_hint="--field",
                )
            payload[name] = pointer
    obj: dict[str, Any] = {"alias": alias, "contactEmail": contact_email, "payload": payload}
    if event_id is not None:
        obj["eventId"] = event_id
    d, problems = custom_events.check_definition(obj, env.now())
    if d is None:
        names = {
            "/alias": "--alias",
            "/contactEmail": "--contact-email",
            "/eventId": "--event-id",
        }
        raise click.ClickException(
            "; ".join(
                f"{names.get(p['path'], '--field ' + p['path'].removeprefix('/payload/'))}: {p['message']}"
                for p in problems
            )
        )
    found = env.write(lambda conn, now: create_type(conn, now, store_id, d))
    if isinstance(found, ApiError):
        raise click.ClickException(found.message)
    if as_json:
        click.echo(msgspec.json.encode(found.view()).decode())
        return
    click.echo(f"custom event type {found.id} ({found.alias})")
    click.echo(
        f"post: /integration-type/system/scrippet-notification/{store_id}?eventId={found.id}"
    )


@custom_events_group.command("list")
@store_option()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_env
def list_(env: Env, store_ref: str | None, as_json: bool) -> None:
    """The store's custom event types, by alias."""
    store_id = _ready(env, store_ref)
    found = env.read(lambda c: types.list_types(c, store_id))
    if as_json:
        click.echo(msgspec.json.encode([t.view() for t in found]).decode())
        return
    if not found:
        click.echo("no custom event types")
    for t in found:
        click.echo(_show(t))


@custom_events_group.command("delete")
@click.argument("event_id")
@store_option()
@pass_env
def delete(env: Env, event_id: str, store_ref: str | None) -> None:
    """Remove a custom event type (the events recorded with it stay)."""
    store_id = _ready(env, store_ref)
    if not env.write(lambda conn, now: types.delete(conn, store_id, event_id)):
        raise click.ClickException(f"no custom event type {event_id!r} in store {store_id}")
    click.echo(f"deleted custom event type {event_id}")
