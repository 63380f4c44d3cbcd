"""REST routes for carts, merges and the store's own settings (their rules:
domain/store_settings.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.context import AppContext
from shopevents.domain import identity, store_settings
from shopevents.errors import ApiError
from shopevents.responses import json_response
from shopevents.storage import reads, stores


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter from lo to hi (422 otherwise)."""
    from shopevents.api.routes import validation_error

    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if raw.strip().lstrip("+-").isascii() else int("x")
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise validation_error(
            [
                {
                    "code": "invalid_value" if value is not None else "invalid_type",
                    "path": f"/{name}",
                    "message": f"Expected a whole number from {lo} to {hi}; received {raw!r}",
                }
            ]
        )
    return value


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


def routes(ctx: AppContext, store_of: Any, write: Any) -> list[Route]:
    from shopevents.api.routes import validation_error

    async def list_carts(request: Request) -> Response:
        store = await store_of(request)
        status = request.query_params.get("status")
        limit = _int(request, "limit", 50, 1, 500)
        offset = _int(request, "offset", 0, 0, 10**9)
        if status is not None and status not in reads.CART_STATES:
            raise validation_error(
                [
                    {
                        "code": "invalid_value",
                        "path": "/status",
                        "message": f"Expected one of {', '.join(reads.CART_STATES)}; received {status!r}",
                    }
                ]
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
                return json_response({"items": []})
            contact_id = contact["id"]
        items = await ctx.read(
            lambda c: reads.list_carts(
                c, store.id, status=status, contact_id=contact_id, limit=limit, offset=offset
            )
        )
        return json_response({"items": items})

    async def get_cart(request: Request) -> Response:
        store = await store_of(request)
        key = request.path_params["cart_key"]
        cart = await ctx.read(lambda c: reads.cart_by_key(c, store.id, key))
        if cart is None:
            raise ApiError("not_found", f"No cart {key!r} in this store")
        return json_response(cart)

    async def undo_merge(request: Request) -> Response:
        store = await store_of(request)
        raw = request.path_params["merge_id"]
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise ApiError("not_found", f"No merge {raw!r} in this store")
        ok = await write(lambda conn, now: identity.unmerge(conn, store.id, int(raw), now))
        if not ok:
            raise ApiError("not_found", f"No merge {raw!r} in this store that can be undone")
        return json_response({"mergeId": int(raw), "status": "undone"})

    async def get_store(request: Request) -> Response:
        store = await store_of(request)
        return json_response(store_json(store))

    async def patch_store(request: Request) -> Response:
        from shopevents.api import bodies

        store = await store_of(request)
        limit = ctx.settings.ingest.api_max_body_bytes
        obj = bodies.decode_json(await bodies.read_bytes(request, limit))
        if not isinstance(obj, dict):
            raise validation_error(
                [{"code": "not_an_object", "path": "", "message": "Expected a JSON object"}]
            )
        try:
            changes = store_settings.parse_changes(obj)
        except store_settings.SettingError as exc:
            raise validation_error(
                [{"code": "invalid_value", "path": exc.path, "message": exc.message}]
            ) from None
        rec = await write(lambda conn, now: stores.update_store(conn, store.id, changes))
        ctx.forget_store(store.id)
        return json_response(store_json(rec))

    return [
        Route("/api/carts", list_carts, methods=["GET"]),
        Route("/api/carts/{cart_key}", get_cart, methods=["GET"]),
        Route("/api/merges/{merge_id}/undo", undo_merge, methods=["POST"]),
        Route("/api/store", get_store, methods=["GET"]),
        Route("/api/store", patch_store, methods=["PATCH"]),
    ]
