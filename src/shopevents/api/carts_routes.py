"""REST routes for carts, merges and the store's own settings (their rules:
domain/store_settings.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies
from shopevents.api.auth import store_of
from shopevents.api.params import digits, int_param, invalid
from shopevents.api.shapes.base import answer, conform
from shopevents.api.shapes.catalog import CartPage, CartWithHistory, Store
from shopevents.api.shapes.people import MergeUndone
from shopevents.api.shapes.requests import StorePatch
from shopevents.domain import identity, store_settings
from shopevents.errors import ApiError
from shopevents.runtime import runtime
from shopevents.storage import reads, stores


def store_json(rec: stores.StoreRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "name": rec.name,
        "currency": rec.currency,
        "reportingCurrency": rec.reporting,
        "timezone": rec.timezone,
        "domains": rec.domains,
        "abandonAfterSeconds": rec.abandon_after_seconds,
        "tagMode": rec.tag_mode,
        "trackingEnabled": rec.tracking_enabled,
        "excludedPaths": rec.excluded_paths,
        "keepBots": rec.keep_bots,
        "consentRequired": rec.consent_required,
        "honourGpc": rec.honour_gpc,
    }


async def list_carts(request: Request) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    status = request.query_params.get("status")
    limit = int_param(request, "limit", 50, 1, 500)
    offset = int_param(request, "offset", 0, 0, 10**9)
    if status is not None and status not in reads.CART_STATES:
        raise invalid(
            "/status", f"Expected one of {', '.join(reads.CART_STATES)}; received {status!r}"
        )
    contact_id = None
    email = request.query_params.get("contact")
    if email is not None:
        contact = (
            None
            if "\x00" in email
            else await ctx.read(lambda c: reads.contact_by_email(c, store.id, email))
        )
        if contact is None:
            return answer(CartPage, {"items": []})
        contact_id = contact["id"]
    items = await ctx.read(
        lambda c: reads.list_carts(
            c, store.id, status=status, contact_id=contact_id, limit=limit, offset=offset
        )
    )
    return answer(CartPage, {"items": items})


async def get_cart(request: Request) -> Response:
    store = await store_of(request)
    key = request.path_params["cart_key"]
    cart = await runtime(request).read(lambda c: reads.cart_by_key(c, store.id, key))
    if cart is None:
        raise ApiError("not_found", f"No cart {key!r} in this store")
    return answer(CartWithHistory, cart)


async def undo_merge(request: Request) -> Response:
    store = await store_of(request)
    raw = request.path_params["merge_id"]
    if not digits(raw):
        raise ApiError("not_found", f"No merge {raw!r} in this store")
    ok = await runtime(request).write(
        lambda conn, now: identity.unmerge(conn, store.id, int(raw), now)
    )
    if not ok:
        raise ApiError("not_found", f"No merge {raw!r} in this store that can be undone")
    return answer(MergeUndone, {"mergeId": int(raw), "status": "undone"})


async def get_store(request: Request) -> Response:
    return answer(Store, store_json(await store_of(request)))


async def patch_store(request: Request) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    obj = await bodies.json_object(request)
    try:
        changes = store_settings.parse_changes(obj)
    except store_settings.SettingError as exc:
        raise invalid(exc.path, exc.message) from None
    conform(
        {
            s.name: changes[s.column]
            for s in store_settings.SETTINGS.values()
            if s.column in changes
        },
        StorePatch,
    )
    rec = await ctx.write(lambda conn, now: stores.update_store(conn, store.id, changes))
    ctx.forget_store(store.id)
    assert rec is not None  # the key's store, changed in this transaction
    return answer(Store, store_json(rec))
