"""The OpenAPI operations of webhook endpoints and their deliveries (`webhooks_routes`)."""

from __future__ import annotations

from shopevents.api.openapi_common import (
    BODY_ERRORS,
    LIMIT,
    Op,
    query,
    string_id,
)
from shopevents.api.shapes import operations as shapes
from shopevents.api.shapes.requests import WebhookCreation

ENDPOINT = {"endpointId": string_id("The endpoint id")}
DELIVERY = {"deliveryId": string_id("The delivery id")}
NO_ENDPOINT = {404: "No such endpoint"}
NO_DELIVERY = {404: "No such delivery"}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/webhooks"): Op(
        "The store's webhook endpoints with delivery counts and success rate",
        "listWebhooks",
        {200: ("Endpoints", shapes.WebhookList)},
    ),
    ("POST", "/api/webhooks"): Op(
        "Register an endpoint; the answer holds its signing secret, shown once",
        "createWebhook",
        {201: ("Created", shapes.WebhookCreated)},
        BODY_ERRORS,
        request=WebhookCreation,
    ),
    ("GET", "/api/webhooks/deliveries/{delivery_id}"): Op(
        "One delivery with its attempts",
        "getWebhookDelivery",
        {200: ("The delivery", shapes.DeliveryDetail)},
        NO_DELIVERY,
        paths=DELIVERY,
    ),
    ("POST", "/api/webhooks/deliveries/{delivery_id}/replay"): Op(
        "Queue a failed or dead delivery again (same id)",
        "replayWebhookDelivery",
        {202: ("Queued again", shapes.DeliveryDetail)},
        NO_DELIVERY,
        paths=DELIVERY,
    ),
    ("GET", "/api/webhooks/{endpoint_id}"): Op(
        "One endpoint",
        "getWebhook",
        {200: ("The endpoint", shapes.Webhook)},
        NO_ENDPOINT,
        paths=ENDPOINT,
    ),
    ("DELETE", "/api/webhooks/{endpoint_id}"): Op(
        "Remove an endpoint and its deliveries",
        "deleteWebhook",
        {204: ("Removed", None)},
        NO_ENDPOINT,
        paths=ENDPOINT,
    ),
    ("POST", "/api/webhooks/{endpoint_id}/ping"): Op(
        "Queue a `ping` delivery to the endpoint",
        "pingWebhook",
        {202: ("Queued", shapes.DeliveryQueued)},
        NO_ENDPOINT,
        paths=ENDPOINT,
    ),
    ("GET", "/api/webhooks/{endpoint_id}/deliveries"): Op(
        "The endpoint's deliveries, newest first",
        "listWebhookDeliveries",
        {200: ("Deliveries", shapes.DeliveryPage)},
        NO_ENDPOINT,
        query=(
            query("status", {"enum": ["pending", "delivered", "failed", "dead"]}),
            query("limit", LIMIT),
            query("offset", {"type": "integer", "minimum": 0, "maximum": 10000000}),
        ),
        paths=ENDPOINT,
    ),
}
