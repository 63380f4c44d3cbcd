"""The REST API's route table (`/api`): method, path, endpoint. Every route of the table
checks the request's API key before its endpoint runs (`routes.py`), and each is an
operation of the OpenAPI document (`openapi.py`). Errors use the one shape; 422s also carry
`validationErrors[{path, reason}]`.

Order matters where paths overlap: a `{…:text}` parameter holds slashes too, and
`/api/webhooks/deliveries/…` comes before `/api/webhooks/{endpoint_id}`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import (
    adjustments_routes,
    carts_routes,
    contacts_routes,
    custom_events_routes,
    erasure_routes,
    imports_routes,
    products_routes,
    purchases_routes,
    reads_routes,
    reports_routes,
    webhooks_routes,
    write_keys_routes,
)

Endpoint = Callable[[Request], Awaitable[Response]]


class AnyText(Convertor[str]):
    """A path parameter that may hold anything, slashes and line breaks included (`{id:text}`)."""

    regex = "[\\s\\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("text", AnyText())

PURCHASE = "/api/purchases/purchase-id/{purchase_id:text}"
KEYED: list[tuple[str, str, Endpoint]] = [
    ("POST", "/api/purchases/", purchases_routes.post_purchase),
    ("POST", "/api/purchases", purchases_routes.post_purchase),
    ("GET", PURCHASE, purchases_routes.get_purchase),
    ("GET", "/api/contacts/{email}", contacts_routes.get_contact),
    ("PATCH", "/api/contacts/{email}", contacts_routes.patch_contact),
    ("GET", "/api/contacts/{email}/activity", contacts_routes.contact_activity),
    ("GET", "/api/products/product-id/{product_id:text}", products_routes.get_product),
    ("PATCH", "/api/products/product-id/{product_id:text}", products_routes.patch_product),
    ("GET", "/api/carts", carts_routes.list_carts),
    ("GET", "/api/carts/{cart_key}", carts_routes.get_cart),
    ("POST", "/api/merges/{merge_id}/undo", carts_routes.undo_merge),
    ("GET", "/api/store", carts_routes.get_store),
    ("PATCH", "/api/store", carts_routes.patch_store),
    ("POST", PURCHASE + "/refunds", adjustments_routes.refund),
    ("POST", PURCHASE + "/cancellation", adjustments_routes.cancel),
    ("GET", "/api/store/retention", erasure_routes.get_retention),
    ("PATCH", "/api/store/retention", erasure_routes.patch_retention),
    ("DELETE", "/api/contacts/{email}", erasure_routes.erase),
    ("GET", "/api/erasures", erasure_routes.list_erasures),
    ("GET", "/api/erasures/{erasure_id}", erasure_routes.get_erasure),
    ("POST", "/api/imports", imports_routes.post_import),
    ("GET", "/api/imports", imports_routes.list_imports),
    ("GET", "/api/imports/{import_id}", imports_routes.get_import),
    ("GET", "/api/exports/{what}", imports_routes.get_export),
    ("GET", "/api/contacts", reads_routes.list_contacts),
    ("GET", "/api/products", reads_routes.list_products),
    ("GET", "/api/purchases", reads_routes.list_purchases),
    ("POST", "/api/custom-event-types", custom_events_routes.post_type),
    ("GET", "/api/custom-event-types", custom_events_routes.list_types),
    ("GET", "/api/custom-event-types/{event_id}", custom_events_routes.get_type),
    ("DELETE", "/api/custom-event-types/{event_id}", custom_events_routes.delete_type),
    ("POST", "/api/custom-events/alias/{alias}", custom_events_routes.post_by_alias),
    ("POST", "/api/custom-events/event-id/{event_id}", custom_events_routes.post_by_event_id),
    ("GET", "/api/webhooks", webhooks_routes.list_webhooks),
    ("POST", "/api/webhooks", webhooks_routes.create_webhook),
    ("GET", "/api/webhooks/deliveries/{delivery_id}", webhooks_routes.get_delivery),
    ("POST", "/api/webhooks/deliveries/{delivery_id}/replay", webhooks_routes.replay_delivery),
    ("GET", "/api/webhooks/{endpoint_id}", webhooks_routes.get_webhook),
    ("DELETE", "/api/webhooks/{endpoint_id}", webhooks_routes.delete_webhook),
    ("POST", "/api/webhooks/{endpoint_id}/ping", webhooks_routes.ping_webhook),
    ("GET", "/api/webhooks/{endpoint_id}/deliveries", webhooks_routes.endpoint_deliveries),
    ("GET", "/api/reports/revenue", reports_routes.revenue_report),
    ("GET", "/api/reports/carts", reports_routes.carts_report),
    ("GET", "/api/reports/products", reports_routes.products_report),
    ("GET", "/api/reports/data-quality", reports_routes.data_quality_report),
    ("GET", "/api/reports/sources", reports_routes.sources_report),
    ("POST", "/api/rates", reports_routes.post_rates),
    ("GET", "/api/rates", reports_routes.get_rates),
    ("POST", "/api/write-keys", write_keys_routes.create_write_key),
    ("GET", "/api/write-keys", write_keys_routes.list_write_keys),
    ("DELETE", "/api/write-keys/{key_id}", write_keys_routes.revoke_write_key),
]
"""Every route that needs an API key: method, path, endpoint."""
