"""REST API for webhooks (apiKey auth, scoped to the key's store):

- `GET  /api/webhooks`: the store's endpoints with delivery statistics
- `POST /api/webhooks`: register `{"url", "topics": [...], "description"?}`; the answer
  carries the signing `secret`, shown this once
- `GET  /api/webhooks/{id}`, `DELETE /api/webhooks/{id}`
- `POST /api/webhooks/{id}/ping`: queue a `ping` delivery to that endpoint
- `GET  /api/webhooks/{id}/deliveries?status=&limit=&offset=`: the endpoint's delivery log
- `GET  /api/webhooks/deliveries/{deliveryId}`: one delivery, its body and every attempt
- `POST /api/webhooks/deliveries/{deliveryId}/replay`: re-queue a failed or dead delivery
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from shopevents.api.auth import store_id_of
from shopevents.api.params import int_param, invalid
from shopevents.api.shapes.base import answer, conform
from shopevents.api.shapes.operations import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryQueued,
    Webhook,
    WebhookCreated,
    WebhookList,
)
from shopevents.api.shapes.requests import WebhookCreation
from shopevents.errors import ApiError, validation_error
from shopevents.ingest.routes import read_body
from shopevents.runtime import runtime
from shopevents.schema.numbers import decode_any
from shopevents.webhooks import delivery_log, dispatch, endpoints

BODY_LIMIT = 64 * 1024


def limit_error(exc: endpoints.EndpointLimitError) -> ApiError:
    return ApiError(
        "too_many_webhook_endpoints",
        exc.message,
        extra={"limit": exc.limit, "setting": "webhooks.max_endpoints_per_store"},
    )


async def endpoint_of(request: Request, store_id: str) -> endpoints.Endpoint:
    """The store's webhook endpoint the path names; `404` if it has none."""
    eid = request.path_params["endpoint_id"]
    found = await runtime(request).read(lambda c: endpoints.get_endpoint(c, eid, store_id))
    if found is None:
        raise ApiError("not_found", f"No webhook endpoint {eid!r} in this store")
    return found


async def list_webhooks(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    now = ctx.now_us()
    items = await ctx.read(lambda c: endpoints.list_endpoints(c, store_id, now))
    return answer(WebhookList, {"items": items, "topics": list(endpoints.TOPICS)})


async def create_webhook(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    body = await read_body(request, BODY_LIMIT)
    try:
        obj = decode_any(body) if body.strip() else None
    except msgspec.DecodeError as exc:
        raise ApiError("invalid_json", f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(
            "invalid_json", "The body is not valid JSON: it is nested too deeply"
        ) from None
    if not isinstance(obj, dict):
        raise invalid("", 'Expected a JSON object: {"url": ..., "topics": [...]}', "not_an_object")
    allow_private = ctx.settings.webhooks.allow_private_addresses
    try:
        url, topics, description = endpoints.validate(
            obj.get("url"),
            obj.get("topics"),
            obj.get("description", ""),
            allow_private=allow_private,
        )
    except endpoints.ValidationErrors as exc:
        raise validation_error(exc.issues()) from None
    conform({"url": url, "topics": topics, "description": description}, WebhookCreation)
    limit = ctx.settings.webhooks.max_endpoints_per_store
    try:
        await ctx.read(lambda c: endpoints.check_endpoint_limit(c, store_id, limit))
    except endpoints.EndpointLimitError as exc:
        raise limit_error(exc) from None

    def create(conn: Any, now: int) -> Any:
        # The limit is checked again in the write (two requests at once); it is given
        # back, not raised, so that the shared transaction it runs in stays intact.
        try:
            return endpoints.create_endpoint(
                conn,
                store_id,
                url,
                topics,
                now,
                description=description,
                allow_private=allow_private,
                max_endpoints=limit,
            )
        except endpoints.EndpointLimitError as exc:
            return exc

    created = await ctx.write(create)
    if isinstance(created, endpoints.EndpointLimitError):
        raise limit_error(created)
    endpoint, secret = created
    return answer(
        WebhookCreated,
        {**endpoints.endpoint_view(endpoint), "secret": secret},
        201,
        {"Location": f"/api/webhooks/{endpoint.id}"},
    )


async def get_webhook(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    endpoint = await endpoint_of(request, store_id)
    now = ctx.now_us()
    stats = await ctx.read(lambda c: endpoints.endpoint_stats(c, [endpoint.id], now))
    return answer(Webhook, endpoints.endpoint_view(endpoint, stats[endpoint.id]))


async def delete_webhook(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    eid = request.path_params["endpoint_id"]
    removed = await ctx.write(lambda conn, now: endpoints.remove_endpoint(conn, eid, store_id))
    if not removed:
        raise ApiError("not_found", f"No webhook endpoint {eid!r} in this store")
    return Response(status_code=204)


async def ping_webhook(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    endpoint = await endpoint_of(request, store_id)
    did = await ctx.write(lambda conn, now: dispatch.enqueue_ping(conn, endpoint.id, store_id, now))
    return answer(
        DeliveryQueued, {"deliveryId": did, "endpointId": endpoint.id, "status": "pending"}, 202
    )


async def endpoint_deliveries(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    endpoint = await endpoint_of(request, store_id)
    status = request.query_params.get("status") or None
    if status is not None and status not in delivery_log.STATUSES:
        raise invalid("/status", "Expected one of: " + ", ".join(delivery_log.STATUSES))
    limit = int_param(request, "limit", 50, 1, 500)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    now = ctx.now_us()
    items = await ctx.read(
        lambda c: delivery_log.list_deliveries(
            c, store_id, endpoint.id, status, limit=limit, offset=offset, now=now
        )
    )
    return answer(DeliveryPage, {"items": items})


async def get_delivery(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    did = request.path_params["delivery_id"]
    now = ctx.now_us()
    found = await ctx.read(lambda c: delivery_log.get_delivery(c, did, store_id, now))
    if found is None:
        raise ApiError("not_found", f"No webhook delivery {did!r} in this store")
    return answer(DeliveryDetail, found)


async def replay_delivery(request: Request) -> Response:
    ctx = runtime(request)
    store_id = store_id_of(request)
    did = request.path_params["delivery_id"]
    before = await ctx.write(lambda conn, now: delivery_log.replay(conn, did, now, store_id))
    if before is None:
        raise ApiError("not_found", f"No webhook delivery {did!r} in this store")
    if before not in ("failed", "dead"):
        raise invalid(
            "/deliveryId", f"Only failed or dead deliveries can be replayed; this one is {before}"
        )
    now = ctx.now_us()
    found = await ctx.read(lambda c: delivery_log.get_delivery(c, did, store_id, now))
    return answer(DeliveryDetail, found, 202)
