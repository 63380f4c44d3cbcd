"""The browser ingest endpoint: POST /integration-type/system/scrippet-notification/{storeId}.

It is a plain ASGI handler (`IngestEndpoint`), served by `shopevents.asgi.FastPath` in front of
the Starlette app; its Starlette routes point at the same handler and only serve what the fast
path passes on (another method's 405, a trailing slash's redirect)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shopevents.asgi import (
    ClientGone,
    RawHeaders,
    as_api_error,
    client_host,
    respond,
    send_json,
)
from shopevents.context import AppContext
from shopevents.domain import bots
from shopevents.errors import ApiError, StorageUnavailable, storage_error
from shopevents.ingest import consent, custom_posts, intake
from shopevents.ingest import tracker as tracker_of
from shopevents.ingest.limits import RateLimiter
from shopevents.schema.verdicts import CheckContext, domain_allowed, read_envelope
from shopevents.storage.stores import StoreRecord

INGEST_PREFIX = "/integration-type/system/scrippet-notification/"
INGEST_PATH = INGEST_PREFIX + "{store_id}"
INGEST_METHODS = {"POST", "OPTIONS"}


def origin_allowed(origin: str | None, store: StoreRecord) -> bool:
    """A store with domains lets in the origins among them, and requests without `Origin`
    (not from a web page). `Origin: null` (a sandboxed iframe, a `data:` page, a redirect
    across origins) names no domain: refused there."""
    if not store.domains or not origin:
        return True
    return origin != "null" and domain_allowed(origin, store.domains)


def cors_headers(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


async def read_body(request: Request, limit: int) -> bytes:
    return await read_limited_body(request.headers, request.stream(), limit)


async def read_limited_body(
    headers: Mapping[str, str], stream: AsyncIterator[bytes], limit: int
) -> bytes:
    """The body, gunzipped if so encoded; `413` as soon as the declared, received or
    decompressed size is over `limit`. A `413` sent before the whole body was read says
    `Connection: close`: the server closes the connection rather than read the rest."""
    declared = headers.get("content-length")
    if declared and (declared.isascii() and declared.isdigit()) and int(declared) > limit:
        raise ApiError(
            "payload_too_large",
            f"The body is {declared} bytes; the limit is {limit}",
            headers={"Connection": "close"},
        )
    chunks = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise ApiError(
                "payload_too_large",
                f"The body is over the limit of {limit} bytes",
                headers={"Connection": "close"},
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = headers.get("content-encoding", "identity").lower().strip()
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


class IngestEndpoint:
    """POST (ingest) and OPTIONS (CORS preflight) on `INGEST_PATH`, as raw ASGI.

    `handle(store_id, ...)` is what the fast path calls; calling the object itself is the ASGI
    app its Starlette routes use (the store id then comes from the route's path params). An
    exception the handler does not answer itself gets the Starlette app's answer to it
    (`as_api_error`); a client gone before its body was read gets none."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.ingest
        self.limiter = RateLimiter.of(self.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope["path_params"]["store_id"], scope, receive, send)

    def routes(self) -> list[Route]:
        # Two routes, as before the fast path: another method's 405 says `Allow: POST`.
        return [
            Route(INGEST_PATH, self, methods=["POST"]),
            Route(INGEST_PATH, self, methods=["OPTIONS"]),
        ]

    async def handle(self, store_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = RawHeaders(scope)
        try:
            if scope["method"] == "OPTIONS":
                status, value, answer_headers = 204, None, await self.preflight(store_id, headers)
            else:
                status, value, answer_headers = await self.ingest(store_id, scope, headers, receive)
        except ClientGone:
            return
        except Exception as exc:
            err = as_api_error(exc, self.settings.retry_after_seconds)
            status, value, answer_headers = err.status, err.body(), err.headers
        if value is None:
            await respond(send, status, answer_headers)
        elif isinstance(value, bytes):  # the answer as stored with the request
            await respond(send, status, answer_headers, value, b"application/json")
        else:
            await send_json(send, value, status, answer_headers)

    async def known_store(self, store_id: str) -> StoreRecord:
        store = await self.ctx.get_store(store_id)
        if store is None:
            raise ApiError("unknown_store", f"No store has the id {store_id!r}")
        return store

    async def preflight(self, store_id: str, request_headers: Mapping[str, str]) -> dict[str, str]:
        store = await self.known_store(store_id)
        origin = request_headers.get("origin")
        if not origin_allowed(origin, store):
            raise ApiError(
                "origin_not_allowed",
                f"The origin {origin} is not among the store's authorised domains",
            )
        headers = cors_headers(origin)
        headers.update(
            {
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": request_headers.get(
                    "access-control-request-headers", "Content-Type"
                ),
                "Access-Control-Max-Age": "86400",
            }
        )
        return headers

    async def ingest(
        self, store_id: str, scope: Scope, request_headers: Mapping[str, str], receive: Receive
    ) -> tuple[int, Any, dict[str, str]]:
        """The answer: status, JSON value (or, for a 200, its encoded bytes) and headers. An
        error's body carries a `trackerId` too (`tracker_of.for_error`)."""
        ctx, settings = self.ctx, self.settings
        origin = request_headers.get("origin")
        tap = tracker_of.BodyTap(receive)
        store: StoreRecord | None = None
        try:
            store = await self.known_store(store_id)
            if not origin_allowed(origin, store):
                raise ApiError(
                    "origin_not_allowed",
                    f"The origin {origin} is not among the store's authorised domains",
                )
            if not self.limiter.allow(store.id, client_host(scope)):
                raise ApiError(
                    "rate_limited", headers={"Retry-After": str(settings.retry_after_seconds)}
                )
            body = await read_limited_body(request_headers, tap.stream(), settings.max_body_bytes)
            if (type_id := custom_posts.event_type_param(scope)) is not None:
                return await custom_posts.ingest(
                    ctx, store, type_id, scope, body, origin, cors_headers(origin)
                )
            envelope = read_envelope(body)
            intake.within_limit(envelope, settings.max_events)
            refused = consent.refusal(store, envelope.consent, request_headers)
            if refused is not None:  # nothing is written: only counted
                ctx.count("ingest_requests", "200")
                for _ in envelope.events:
                    ctx.count("ingest_events", "no_consent")
                return 200, consent.answer(envelope, refused), cors_headers(origin)
            now = ctx.clock.now()
            prepared = intake.prepare(
                store,
                envelope,
                body,
                ctx=CheckContext(now=now, currency=store.currency, domains=store.domains),
                max_event_bytes=settings.max_event_bytes,
                origin=origin,
                bot=bots.reason(request_headers.get("user-agent")),
                details=ctx.intake.applies,
            )
            try:
                result, encoded = await ctx.intake.submit(prepared, max(1, len(envelope.events)))
            except StorageUnavailable as exc:
                raise storage_error(exc, settings.retry_after_seconds) from None
        except (ApiError, StorageUnavailable) as exc:
            err = as_api_error(exc, settings.retry_after_seconds)
            ctx.count("ingest_requests", str(err.status))
            answer = err.body()
            mint = store is None or not consent.gated(store, request_headers)
            answer["trackerId"] = await tracker_of.for_error(tap, scope, request_headers, mint)
            return err.status, answer, {**cors_headers(origin), **err.headers}
        ctx.count("ingest_requests", "200")
        for r in result["results"]:
            ctx.count("ingest_events", r["status"])
        return 200, encoded, cors_headers(origin)
