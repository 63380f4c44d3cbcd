"""A store's keys: `shopevents stores keys` (REST API keys) and `shopevents stores
write-keys` (Segment write keys)."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import out_json, resolve_store
from shopevents.cli.env import Env, pass_env
from shopevents.clock import from_micros
from shopevents.storage import stores
from shopevents.storage.reads import iso


@click.command("keys")
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


@click.group("write-keys")
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
