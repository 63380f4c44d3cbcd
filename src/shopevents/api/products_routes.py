"""REST routes of a product by id: `GET`, and `PATCH` (create it, or change the fields given)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies, writes
from shopevents.api.auth import store_of
from shopevents.api.params import invalid
from shopevents.api.purchases_routes import check_context, strict
from shopevents.api.shapes.base import answer
from shopevents.api.shapes.catalog import Product, ProductWritten
from shopevents.errors import ApiError
from shopevents.jsoncodec import plain
from shopevents.runtime import runtime
from shopevents.schema import models as m
from shopevents.schema.dates import parse_iso8601
from shopevents.schema.verdicts import decode_model
from shopevents.storage import reads


async def get_product(request: Request) -> Response:
    store = await store_of(request)
    pid = request.path_params["product_id"]
    found = (
        None
        if "\x00" in pid
        else await runtime(request).read(lambda c: reads.product_by_id(c, store.id, pid))
    )
    if found is None:
        raise ApiError("not_found", f"No product {pid!r} in this store")
    return answer(Product, found)


async def patch_product(request: Request) -> Response:
    ctx = runtime(request)
    store = await store_of(request)
    pid = request.path_params["product_id"]
    if "\x00" in pid:
        raise invalid("/productId", "Expected a product id without NUL (U+0000) characters")
    if len(pid) > m.MAX_ID_LENGTH:
        raise invalid(
            "/productId",
            f"Expected a product id of at most {m.MAX_ID_LENGTH} characters; received {len(pid)}",
        )
    obj = await bodies.json_object(request)
    obj.pop("productId", None)
    existing = await ctx.read(lambda c: reads.product_data(c, store.id, pid))
    created = existing is None
    if existing is not None:
        existing.pop("productId", None)
        obj = {**existing, **obj}
    verdict = decode_model(obj, m.ProductCreation, check_context(request, store))
    product: m.ProductCreation = strict(verdict)
    data = plain(product)
    if data.get("publishedAt") and parse_iso8601(data["publishedAt"]) is None:
        raise invalid("/publishedAt", "Expected an ISO 8601 date", "invalid_date")
    found = await ctx.write(lambda conn, now: writes.patch_product(conn, now, store.id, pid, data))
    assert found is not None  # written in the same transaction
    return answer(ProductWritten, {**found, "warnings": verdict.warnings}, 201 if created else 200)
