"""REST API routes. Errors use the one shape; 422s also carry `validationErrors[{path, reason}]`."""

from __future__ import annotations

from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.api import bodies, custom_events_routes, writes
from shopevents.api.auth import key_store
from shopevents.api.openapi import openapi_document
from shopevents.context import AppContext
from shopevents.domain import timeline
from shopevents.errors import ApiError, StorageUnavailable, storage_error, validation_error
from shopevents.responses import json_response
from shopevents.schema import models as m
from shopevents.schema.dates import parse_iso8601
from shopevents.schema.verdicts import _EMAIL, CheckContext, Verdict, decode_entity, decode_model
from shopevents.storage import reads
from shopevents.storage.codec import loads, plain
from shopevents.storage.stores import StoreRecord


class AnyText(Convertor[str]):
    """A path parameter that may hold anything, slashes and line breaks included."""

    regex = "[\\s\\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("text", AnyText())

# Warnings that mean a field was dropped: the REST API refuses them (422) instead.
STRICT = {"invalid_enum", "invalid_field", "invalid_date", "invalid_email", "invalid_currency"}


def strict(verdict: Verdict) -> Any:
    errors = ([verdict.error] if verdict.error else []) + [
        w for w in verdict.warnings if w["code"] in STRICT
    ]
    if errors:
        raise validation_error(errors)
    return verdict.value


def _email(text: str) -> str:
    email = text.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise validation_error(
            [
                {
                    "code": "invalid_email",
                    "path": "/email",
                    "message": f"Expected an e-mail address; received {text!r}",
                }
            ]
        )
    return email


def routes(ctx: AppContext) -> list[Route]:
    async def store_of(request: Request) -> StoreRecord:
        return await key_store(ctx, request)

    async def body_of(request: Request) -> bytes:
        return await bodies.read_bytes(request, ctx.settings.ingest.api_max_body_bytes)

    decode_json = bodies.decode_json

    def check(store: StoreRecord) -> CheckContext:
        return CheckContext(now=ctx.clock.now(), currency=store.currency, domains=store.domains)

    async def write(fn: Any) -> Any:
        try:
            return await ctx.write(fn)
        except StorageUnavailable as exc:
            raise storage_error(exc, ctx.settings.ingest.retry_after_seconds) from None

    # -- purchases ------------------------------------------------------------------------

    async def post_purchase(request: Request) -> Response:
        store = await store_of(request)
        body = await body_of(request)
        verdict = bodies.decode_purchase(body, check(store), ctx.settings.ingest.api_max_lines)
        p: m.PurchaseCreation = strict(verdict)
        from shopevents.schema.verdicts import check_purchase

        warnings = list(verdict.warnings)
        date = check_purchase(p, "", check(store), warnings)
        errors = [w for w in warnings if w["code"] in STRICT]
        if p.contactEmail is not None and not _EMAIL.match(p.contactEmail.strip()):
            errors.append(
                {
                    "code": "invalid_email",
                    "path": "/contactEmail",
                    "message": f"Expected an e-mail address; received {p.contactEmail!r}",
                }
            )
        if errors:
            raise validation_error(errors)
        status, purchase = await write(
            lambda conn, now: writes.create_purchase(conn, now, store, body, p, date, warnings)
        )
        if status == "conflict":
            raise ApiError(
                "purchase_conflict",
                f"A purchase {p.purchaseId!r} with a different content is already recorded; this one is kept for review and not counted",
                extra={"purchase": purchase},
            )
        return json_response(
            {"status": status, "warnings": warnings, "purchase": purchase},
            201 if status == "accepted" else 200,
        )

    async def get_purchase(request: Request) -> Response:
        store = await store_of(request)
        pid = request.path_params["purchase_id"]
        found = (
            None
            if "\x00" in pid
            else await ctx.read(lambda c: reads.purchase_by_id(c, store.id, pid))
        )
        if found is None:
            raise ApiError("not_found", f"No purchase {pid!r} in this store")
        return json_response(found)

    # -- contacts -------------------------------------------------------------------------

    async def contact_of(store: StoreRecord, email: str) -> dict[str, Any]:
        email = _email(email)
        found = await ctx.read(lambda c: reads.contact_by_email(c, store.id, email))
        if found is None:
            raise ApiError("not_found", f"No contact {email!r} in this store")
        return found

    async def get_contact(request: Request) -> Response:
        store = await store_of(request)
        contact = await contact_of(store, request.path_params["email"])
        details = await ctx.read(lambda c: reads.contact_details(c, store.id, contact["id"]))
        return json_response({**contact, **details})

    async def patch_contact(request: Request) -> Response:
        store = await store_of(request)
        email = _email(request.path_params["email"])
        body = await body_of(request)
        obj = decode_json(body)
        if not isinstance(obj, dict):
            raise validation_error(
                [{"code": "not_an_object", "path": "", "message": "Expected a JSON object"}]
            )
        for key in ("primaryKey", "trackerId", "_email"):
            obj.pop(key, None)
        verdict = decode_entity(b"", check(store), base="", obj=obj)
        info = strict(verdict)
        fields = {
            k: v for k, v in plain(info.fields).items() if k not in ("primaryKey", "trackerId")
        }
        fields.update(info.custom)
        contact, created = await write(
            lambda conn, now: writes.patch_contact(conn, now, store.id, email, fields)
        )
        return json_response({**contact, "warnings": verdict.warnings}, 201 if created else 200)

    async def contact_activity(request: Request) -> Response:
        store = await store_of(request)
        contact = await contact_of(store, request.path_params["email"])
        from shopevents.api.carts_routes import _int

        limit = _int(request, "limit", 50, 1, 500)
        cursor = request.query_params.get("cursor")
        before = None
        if cursor:
            before = timeline.parse_cursor(cursor)
            if before is None:
                raise validation_error(
                    [
                        {
                            "code": "invalid_value",
                            "path": "/cursor",
                            "message": "Expected a cursor from a previous page",
                        }
                    ]
                )
        items = await ctx.read(
            lambda c: timeline.page(c, store.id, contact["id"], limit + 1, before)
        )
        more = len(items) > limit
        items = items[:limit]
        next_cursor = f"{items[-1]['_at']}-{items[-1]['id']}" if more and items else None
        for it in items:
            it.pop("_at", None)
        return json_response(
            {
                "items": items,
                "nextCursor": next_cursor,
                "links": {
                    "next": f"{request.url.path}?limit={limit}&cursor={next_cursor}"
                    if next_cursor
                    else None
                },
            }
        )

    # -- products -------------------------------------------------------------------------

    async def get_product(request: Request) -> Response:
        store = await store_of(request)
        pid = request.path_params["product_id"]
        found = (
            None
            if "\x00" in pid
            else await ctx.read(lambda c: reads.product_by_id(c, store.id, pid))
        )
        if found is None:
            raise ApiError("not_found", f"No product {pid!r} in this store")
        return json_response(found)

    async def patch_product(request: Request) -> Response:
        store = await store_of(request)
        pid = request.path_params["product_id"]
        if "\x00" in pid:
            raise validation_error(
                [
                    {
                        "code": "invalid_value",
                        "path": "/productId",
                        "message": "Expected a product id without NUL (U+0000) characters",
                    }
                ]
            )
        if len(pid) > m.MAX_ID_LENGTH:
            raise validation_error(
                [
                    {
                        "code": "invalid_value",
                        "path": "/productId",
                        "message": f"Expected a product id of at most {m.MAX_ID_LENGTH} characters; received {len(pid)}",
                    }
                ]
            )
        body = await body_of(request)
        obj = decode_json(body)
        if not isinstance(obj, dict):
            raise validation_error(
                [{"code": "not_an_object", "path": "", "message": "Expected a JSON object"}]
            )
        obj.pop("productId", None)
        existing = await ctx.read(
            lambda c: c.scalar(
                "SELECT data FROM products WHERE store_id = ? AND product_id = ?", (store.id, pid)
            )
        )
        created = existing is None
        if existing is not None:
            base = loads(existing) or {}
            base.pop("productId", None)
            obj = {**base, **obj}
        verdict = decode_model(obj, m.ProductCreation, check(store))
        product: m.ProductCreation = strict(verdict)
        data = plain(product)
        if data.get("publishedAt") and parse_iso8601(data["publishedAt"]) is None:
            raise validation_error(
                [
                    {
                        "code": "invalid_date",
                        "path": "/publishedAt",
                        "message": "Expected an ISO 8601 date",
                    }
                ]
            )
        found = await write(lambda conn, now: writes.patch_product(conn, now, store.id, pid, data))
        return json_response({**found, "warnings": verdict.warnings}, 201 if created else 200)

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document(ctx.settings.base_url))

    return [
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/purchases/", post_purchase, methods=["POST"]),
        Route("/api/purchases", post_purchase, methods=["POST"]),
        Route("/api/purchases/purchase-id/{purchase_id:text}", get_purchase, methods=["GET"]),
        Route("/api/contacts/{email}", get_contact, methods=["GET"]),
        Route("/api/contacts/{email}", patch_contact, methods=["PATCH"]),
        Route("/api/contacts/{email}/activity", contact_activity, methods=["GET"]),
        Route("/api/products/product-id/{product_id:text}", get_product, methods=["GET"]),
        Route("/api/products/product-id/{product_id:text}", patch_product, methods=["PATCH"]),
        *more_routes(ctx, store_of, write),
        *custom_events_routes.routes(ctx, store_of, write),
    ]


def more_routes(ctx: AppContext, store_of: Any, write: Any) -> list[Route]:
    from shopevents.api import adjustments_routes, carts_routes, erasure_routes

    return (
        carts_routes.routes(ctx, store_of, write)
        + adjustments_routes.routes(ctx, store_of, write)
        + erasure_routes.routes(ctx, store_of, write)
        + bulk_routes(ctx, store_of, write)
    )


def bulk_routes(ctx: AppContext, store_of: Any, write: Any) -> list[Route]:
    from shopevents.api import imports_routes, reads_routes

    return imports_routes.routes(ctx, store_of, write) + reads_routes.routes(ctx, store_of, write)
