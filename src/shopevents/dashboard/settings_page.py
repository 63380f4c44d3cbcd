"""A store's *Settings* page: the store's settings form (the rules of
`domain/store_settings.py`, as the CLI and the REST API), the loader snippet, the REST API
keys and the write keys; an admin also sees the webhook endpoints (`webhooks_page`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple
from zoneinfo import available_timezones

from starlette.requests import Request
from starlette.responses import Response

from shopevents.client.snippet import loader_snippet
from shopevents.dashboard import format
from shopevents.dashboard.params import lines
from shopevents.dashboard.site import View, redirect, store_view, view
from shopevents.domain import store_settings
from shopevents.domain.outbox import TOPICS
from shopevents.storage import stores
from shopevents.storage.stores import StoreRecord
from shopevents.webhooks import endpoints as whe


async def show(
    v: View,
    *,
    new_key: tuple[str, str] | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
    webhook_error: str | None = None,
    new_webhook: tuple[str, str] | None = None,
    new_write_key: tuple[str, str] | None = None,
) -> Response:
    """The settings page, with a secret just made (shown once) or a refused form."""
    store = v.open_store
    keys: list[Any] = []
    write_keys: list[Any] = []
    hooks = None
    if v.can("admin"):  # a viewer sees no keys and no webhook settings
        ctx = v.ctx
        keys = await v.read(lambda c: stores.list_api_keys(c, store.id))
        write_keys = await v.read(lambda c: stores.list_write_keys(c, store.id))
        endpoints = await v.read(lambda c: whe.list_endpoints(c, store.id, ctx.now_us()))
        hooks = {"endpoints": endpoints, "topics": TOPICS}
    base = v.public_base
    resp = v.render(
        "settings.html",
        status,
        active="settings",
        keys=keys,
        new_key=new_key,
        error=error,
        form=form or settings_form(store),
        snippet=loader_snippet(store.id, base),
        ingest_url=f"{base}/integration-type/system/scrippet-notification/{store.id}",
        timezones=timezones(),
        webhooks=hooks,
        webhook_error=webhook_error,
        new_webhook=new_webhook,
        write_keys=write_keys,
        new_write_key=new_write_key,
        segment_url=base,
    )
    if new_key or new_webhook or new_write_key:
        resp.headers["Cache-Control"] = "no-store"
    return resp


async def settings_get(request: Request) -> Response:
    return await show(view(request))


async def settings_post(request: Request) -> Response:
    v, store = store_view(request)
    form: dict[str, Any] = {
        "name": v.field("name"),
        "currency": v.field("currency"),
        "timezone": v.field("timezone"),
        "domains": v.field("domains"),
        "abandon_after": v.field("abandon_after"),
        "tag_mode": bool(v.field("tag_mode")),
        "tracking_enabled": bool(v.field("tracking_enabled")),
        "excluded_paths": v.field("excluded_paths"),
        "consent_required": bool(v.field("consent_required")),
        "honour_gpc": bool(v.field("honour_gpc")),
        "keep_bots": bool(v.field("keep_bots")),
    }
    try:  # the rules of domain/store_settings.py, as the CLI and the REST API
        changes = store_settings.parse_changes(
            {
                "name": form["name"],
                "currency": form["currency"],
                "timezone": form["timezone"],
                "domains": lines(form["domains"]),
                "abandonAfterSeconds": form["abandon_after"],
                "tagMode": form["tag_mode"],
                "trackingEnabled": form["tracking_enabled"],
                "excludedPaths": lines(form["excluded_paths"]),
                "consentRequired": form["consent_required"],
                "honourGpc": form["honour_gpc"],
                "keepBots": form["keep_bots"],
            }
        )
    except store_settings.SettingError as exc:
        return await show(v, error=setting_message(exc), form=form, status=422)
    await v.write(lambda c, now: stores.update_store(c, store.id, changes))
    v.ctx.forget_store(store.id)
    v.say("ok", "Settings saved.")
    return redirect(f"{v.base}/settings")


class KeyKind(NamedTuple):
    """A kind of key the settings page lists: how it is made and revoked, what is said."""

    create: Callable[..., tuple[str, str]]
    revoke: Callable[..., bool]
    created: str
    revoked: str
    missing: str
    anchor: str  # its list on the settings page
    shown_as: str  # the settings page's parameter that shows a new one once


API_KEYS = KeyKind(
    stores.create_api_key,
    stores.revoke_api_key,
    "API key “{}” created. Copy the secret now: it is not shown again.",
    "API key {} revoked.",
    "No active key {}.",
    "keys",
    "new_key",
)
WRITE_KEYS = KeyKind(
    stores.create_write_key,
    stores.revoke_write_key,
    "Write key “{}” created. Copy it now: it is not shown again.",
    "Write key {} revoked.",
    "No active write key {}.",
    "write-keys",
    "new_write_key",
)


async def key_create(request: Request) -> Response:
    return await create_key(request, API_KEYS)


async def key_revoke(request: Request) -> Response:
    return await revoke_key(request, API_KEYS)


async def write_key_create(request: Request) -> Response:
    return await create_key(request, WRITE_KEYS)


async def write_key_revoke(request: Request) -> Response:
    return await revoke_key(request, WRITE_KEYS)


async def create_key(request: Request, kind: KeyKind) -> Response:
    """A new key named by the form, its secret shown once on the settings page."""
    v, store = store_view(request)
    name = v.field("name").strip()[:100] or "default"
    key = await v.write(lambda c, now: kind.create(c, store.id, now=now, name=name))
    v.flash.append(("ok", kind.created.format(name)))
    shown: dict[str, Any] = {kind.shown_as: key}
    return await show(v, **shown)


async def revoke_key(request: Request, kind: KeyKind) -> Response:
    """Revoke the key named in the path; back to its list on the settings page."""
    v, store = store_view(request)
    kid = request.path_params["key_id"]
    ok = await v.write(lambda c, now: kind.revoke(c, store.id, kid, now=now))
    v.say_outcome(ok, kind.revoked.format(kid), kind.missing.format(kid))
    return redirect(f"{v.base}/settings#{kind.anchor}")


def setting_message(exc: store_settings.SettingError) -> str:
    """A refused store setting as the settings form shows it: its label, then the rule's
    message (the CLI and the REST API show the same message)."""
    return f"{store_settings.SETTINGS[exc.name].label}: {exc.message}"


def settings_form(store: StoreRecord) -> dict[str, Any]:
    return {
        "name": store.name,
        "currency": store.currency,
        "timezone": store.timezone,
        "domains": "\n".join(store.domains),
        "abandon_after": format.duration(store.abandon_after_seconds).replace(" ", ""),
        "tag_mode": store.tag_mode,
        "tracking_enabled": store.tracking_enabled,
        "excluded_paths": "\n".join(store.excluded_paths),
        "consent_required": store.consent_required,
        "honour_gpc": store.honour_gpc,
        "keep_bots": store.keep_bots,
    }


@functools.cache
def timezones() -> list[str]:
    """Every IANA time zone name the system knows, sorted (the form's choices)."""
    return sorted(available_timezones())
