"""The browser ingest endpoint: POST /integration-type/system/scrippet-notification/{storeId}."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.context import AppContext
from shopevents.errors import ApiError, StorageUnavailable
from shopevents.ingest import intake
from shopevents.ingest.limits import RateLimiter
from shopevents.responses import json_response
from shopevents.schema.verdicts import CheckContext, domain_allowed, read_envelope
from shopevents.storage.stores import StoreRecord

INGEST_PATH = "/integration-type/system/scrippet-notification/{store_id}"


def origin_allowed(origin: str | None, store: StoreRecord) -> bool:
    if not store.domains or not origin or origin == "null":
        return True
    return domain_allowed(origin, store.domains)


def cors_headers(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and (declared.isascii() and declared.isdigit()) and int(declared) > limit:
        raise ApiError("payload_too_large", f"The body is {declared} bytes; the limit is {limit}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("payload_too_large", f"The body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower().strip()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise ApiError(
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; use gzip or none",
        )
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ApiError("invalid_json", f"The gzip body cannot be read: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise ApiError(
            "payload_too_large", f"The decompressed body is over the limit of {limit} bytes"
        )
    return out


def routes(ctx: AppContext) -> list[Route]:
    settings = ctx.settings.ingest
    limiter = RateLimiter(settings.rate_limit_per_store, settings.rate_limit_per_client)

    def known_store(store_id: str) -> StoreRecord:
        store = ctx.get_store(store_id)
        if store is None:
            raise ApiError("unknown_store", f"No store has the id {store_id!r}")
        return store

    async def preflight(request: Request) -> Response:
        store = known_store(request.path_params["store_id"])
        origin = request.headers.get("origin")
        if not origin_allowed(origin, store):
            raise ApiError(
                "origin_not_allowed",
                f"The origin {origin} is not among the store's authorised domains",
            )
        headers = cors_headers(origin)
        headers.update(
            {
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "access-control-request-headers", "Content-Type"
                ),
                "Access-Control-Max-Age": "86400",
            }
        )
        return Response(status_code=204, headers=headers)

    async def ingest(request: Request) -> Response:
        origin = request.headers.get("origin")
        try:
            store = known_store(request.path_params["store_id"])
            if not origin_allowed(origin, store):
                raise ApiError(
                    "origin_not_allowed",
                    f"The origin {origin} is not among the store's authorised domains",
                )
            client = request.client.host if request.client else ""
            if not limiter.allow(store.id, client):
                raise ApiError(
                    "rate_limited", headers={"Retry-After": str(settings.retry_after_seconds)}
                )
            body = await read_body(request, settings.max_body_bytes)
            envelope = read_envelope(body)
            if len(envelope.events) > settings.max_events:
                raise ApiError(
                    "too_many_events",
                    f"The request holds {len(envelope.events)} events; the limit is {settings.max_events}",
                )
            now = ctx.clock.now()
            prepared = intake.prepare(
                store,
                envelope,
                body,
                ctx=CheckContext(now=now, currency=store.currency, domains=store.domains),
                max_event_bytes=settings.max_event_bytes,
                origin=origin,
            )
            try:
                result: dict[str, Any] = await ctx.write(
                    lambda conn, t: intake.apply(conn, prepared, t, ctx.recent_products)
                )
            except StorageUnavailable:
                raise ApiError(
                    "storage_unavailable",
                    headers={"Retry-After": str(settings.retry_after_seconds)},
                ) from None
        except ApiError as exc:
            ctx.count("ingest_requests", str(exc.status))
            headers = {**cors_headers(origin), **exc.headers}
            return json_response(exc.body(), exc.status, headers)
        ctx.count("ingest_requests", "200")
        for r in result["results"]:
            ctx.count("ingest_events", r["status"])
        return json_response(result, 200, cors_headers(origin))

    return [
        Route(INGEST_PATH, ingest, methods=["POST"]),
        Route(INGEST_PATH, preflight, methods=["OPTIONS"]),
    ]
