"""The Segment HTTP Tracking API: `POST /v1/batch`, `/v1/track`, `/v1/identify`, `/v1/page`,
`/v1/screen`, `/v1/alias`, `/v1/group` (and the one-letter paths analytics.js calls), with
and without a trailing slash; authenticated by a store's write key.

Each message becomes one request of the ingest pipeline (channel `segment`, its messageId
the request key); a batch's messages are applied in order in one write transaction. SDKs get
Segment's answer, `200 {"success": true}`; each message's verdict is stored with its request
(the integration debugger and the quarantine show it)."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.asgi import client_host
from shopevents.context import AppContext
from shopevents.errors import ApiError, StorageUnavailable, storage_error
from shopevents.ingest import intake
from shopevents.ingest.limits import RateLimiter
from shopevents.ingest.routes import read_limited_body
from shopevents.responses import json_response
from shopevents.schema.verdicts import CheckContext
from shopevents.segment import messages
from shopevents.storage import stores
from shopevents.storage.database import Conn

# The path each SDK calls -> the message type it carries (None: a batch).
PATHS: dict[str, str | None] = {
    "batch": None,
    "b": None,
    "import": None,
    "track": "track",
    "t": "track",
    "identify": "identify",
    "i": "identify",
    "page": "page",
    "p": "page",
    "screen": "screen",
    "s": "screen",
    "alias": "alias",
    "a": "alias",
    "group": "group",
    "g": "group",
}


class _Batch(msgspec.Struct):
    batch: list[msgspec.Raw] = []
    writeKey: Any = None


class _Single(msgspec.Struct):
    writeKey: Any = None


_batch_decoder = msgspec.json.Decoder(_Batch)
_single_decoder = msgspec.json.Decoder(_Single)


def warm_all(conn: Conn, hints: list[list[intake.Prepared]]) -> None:
    """The intake warm-up over every message of every batch in the transaction."""
    intake.warm(conn, [p for batch in hints for p in batch])


def basic_user(header: str) -> str | None:
    scheme, _, cred = header.partition(" ")
    if scheme.lower() != "basic" or not cred.strip():
        return None
    try:
        text = base64.b64decode(cred.strip(), validate=False).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return text.partition(":")[0] or None


def cors(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


class SegmentEndpoint:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.ingest
        self.limiter = RateLimiter.of(self.settings)

    def routes(self) -> list[Route]:
        out = []
        for name, kind in PATHS.items():
            handler = self.handler(kind)
            for path in (f"/v1/{name}", f"/v1/{name}/"):
                out.append(Route(path, handler, methods=["POST"]))
                out.append(Route(path, self.preflight, methods=["OPTIONS"]))
        return out

    async def preflight(self, request: Request) -> Response:
        headers = cors(request.headers.get("origin"))
        headers.update(
            {
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "access-control-request-headers", "Content-Type, Authorization"
                ),
                "Access-Control-Max-Age": "86400",
            }
        )
        return Response(status_code=204, headers=headers)

    def handler(self, kind: str | None) -> Any:
        async def handle(request: Request) -> Response:
            origin = request.headers.get("origin")
            try:
                await self.ingest(request, kind)
            except ApiError as exc:
                self.ctx.count("segment_requests", str(exc.status))
                body = exc.body()
                body["success"] = False
                return json_response(body, exc.status, {**cors(origin), **exc.headers})
            self.ctx.count("segment_requests", "200")
            return json_response({"success": True}, 200, cors(origin))

        return handle

    async def store_of(self, key: str | None) -> Any:
        if not key or not isinstance(key, str):
            raise ApiError(
                "invalid_write_key",
                "Send the write key as the HTTP Basic user or as `writeKey` in the body",
                headers={"WWW-Authenticate": "Basic"},
            )
        try:
            store_id = await self.ctx.read(lambda c: stores.check_write_key(c, key))
        except StorageUnavailable as exc:
            raise storage_error(exc, self.settings.retry_after_seconds) from None
        store = await self.ctx.get_store(store_id) if store_id else None
        if store is None:
            raise ApiError(
                "invalid_write_key",
                "Unknown or revoked write key",
                headers={"WWW-Authenticate": "Basic"},
            )
        return store

    async def ingest(self, request: Request, kind: str | None) -> None:
        ctx, settings = self.ctx, self.settings
        body = await read_limited_body(request.headers, request.stream(), messages.MAX_BATCH_BYTES)
        try:
            if kind is None:
                batch = _batch_decoder.decode(body)
                key = batch.writeKey
                raws = [bytes(r) for r in batch.batch]
            else:
                if len(body) > messages.MAX_MESSAGE_BYTES:
                    raise ApiError(
                        "message_too_large",
                        f"The message is {len(body)} bytes; the limit is {messages.MAX_MESSAGE_BYTES}",
                    )
                key = _single_decoder.decode(body).writeKey
                raws = [body]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ApiError("invalid_json", f"The body is not a Segment message: {exc}") from None
        store = await self.store_of(basic_user(request.headers.get("authorization", "")) or key)
        if not self.limiter.allow(store.id, client_host(request.scope)):
            raise ApiError(
                "rate_limited", headers={"Retry-After": str(settings.retry_after_seconds)}
            )
        if not raws:
            return
        now = ctx.clock.now()
        check = CheckContext(now=now, currency=store.currency, domains=store.domains)
        origin = request.headers.get("origin")
        prepared = []
        for raw in raws:
            try:
                msg = messages.decode(raw)
            except msgspec.DecodeError:
                msg = None
            prepared.append(
                messages.prepare_message(
                    store,
                    raw,
                    msg,
                    ctx=check,
                    max_event_bytes=settings.max_event_bytes,
                    default_type=kind,
                    origin=origin,
                )
            )

        def apply(conn: Conn, t: int) -> list[dict[str, Any]]:
            return [intake.apply_encoded(conn, p, t, ctx.recent_products)[0] for p in prepared]

        try:
            results = await ctx.write(apply, (warm_all, prepared), weight=len(prepared))
        except StorageUnavailable as exc:
            raise storage_error(exc, settings.retry_after_seconds) from None
        for res in results:
            for r in res["results"]:
                ctx.count("ingest_events", r["status"])


def routes(ctx: AppContext) -> list[Route]:
    return SegmentEndpoint(ctx).routes()
