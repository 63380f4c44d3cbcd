"""`shopevents stores`: create, list and change stores, and print a store's loader snippet
(its keys: keys.py; its retention: privacy.py)."""

from __future__ import annotations

from typing import Any

import click

from shopevents.cli.common import out_json, resolve_store
from shopevents.cli.env import Env, pass_env
from shopevents.client.snippet import loader_snippet
from shopevents.domain import store_settings
from shopevents.storage import stores
from shopevents.storage.database import Conn


@click.group("stores")
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
    rec = resolve_store(env, store_id)
    click.echo(loader_snippet(rec.id, (base_url or env.settings.base_url).rstrip("/")))
