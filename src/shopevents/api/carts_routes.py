"""REST routes for carts, merges and the store's own settings."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.context import AppContext
from shopevents.domain import identity
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
            changes = parse_store_changes(obj)
        except ValueError as exc:
            path, _, message = str(exc).partition(": ")
            raise validation_error(
                [{"code": "invalid_value", "path": path, "message": message}]
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


_FLAGS = {
    "tagMode": "tag_mode",
    "trackingEnabled": "tracking_enabled",
    "consentRequired": "consent_required",
    "honourGpc": "honour_gpc",
}
"""The store's on/off settings: REST name -> column."""


def parse_store_changes(obj: dict[str, Any]) -> dict[str, Any]:
    """Validate a store settings patch (REST and dashboard); ValueError('path: message')."""
    import re
    from zoneinfo import ZoneInfo

    from shopevents.schema.currencies import ISO_4217

    changes: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"/{key}: Expected a text without NUL (U+0000) characters")
        if isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value):
            raise ValueError(f"/{key}: Expected texts without NUL (U+0000) characters")
        if key == "name":
            if not isinstance(value, str) or not value.strip():
                raise ValueError("/name: Expected a non-empty text")
            changes["name"] = value.strip()
        elif key == "currency":
            if not isinstance(value, str) or value.upper() not in ISO_4217:
                raise ValueError(f"/currency: Expected an ISO 4217 code; received {value!r}")
            changes["currency"] = value.upper()
        elif key == "reportingCurrency":
            if not isinstance(value, str) or value.upper() not in ISO_4217:
                raise ValueError(
                    f"/reportingCurrency: Expected an ISO 4217 code; received {value!r}"
                )
            changes["reporting_currency"] = value.upper()
        elif key == "timezone":
            try:
                ZoneInfo(str(value))
            except Exception:
                raise ValueError(
                    f"/timezone: Expected an IANA time zone; received {value!r}"
                ) from None
            changes["timezone"] = str(value)
        elif key == "domains":
            if not isinstance(value, list):
                raise ValueError("/domains: Expected a list of domains")
            changes["domains"] = stores.normalize_domains(value)  # the one rule, as the CLI
        elif key == "abandonAfterSeconds":
            if isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
                value = int(value)  # 600.0 is a whole number too
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < 1
                or value > 90 * 86400
            ):
                raise ValueError(
                    "/abandonAfterSeconds: Expected a whole number of seconds from 1 to 7776000"
                )
            changes["abandon_after_seconds"] = value
        elif key in _FLAGS:
            if not isinstance(value, bool):
                raise ValueError(f"/{key}: Expected true or false; received {value!r}")
            changes[_FLAGS[key]] = value
        elif key == "keepBots":  # docs/privacy.md#bots
            if not isinstance(value, bool):
                raise ValueError(f"/keepBots: Expected true or false; received {value!r}")
            changes["keep_bots"] = value
        elif key == "excludedPaths":
            if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
                raise ValueError("/excludedPaths: Expected a list of regular expressions")
            for rx in value:
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise ValueError(
                        f"/excludedPaths: {rx!r} is not a regular expression: {exc}"
                    ) from None
            changes["excluded_paths"] = value
        elif key != "id":
            raise ValueError(f"/{key}: Unknown setting")
    return changes
