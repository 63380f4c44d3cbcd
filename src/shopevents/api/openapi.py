"""The OpenAPI 3.1 document of the REST API, request bodies generated from the Structs."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

import msgspec

from shopevents.api.openapi_bulk import bulk_paths
from shopevents.api.openapi_erasure import erase_contact, erasure_paths
from shopevents.schema import models as m
from shopevents.schema.currencies import ISO_4217
from shopevents.schema.emails import EMAIL_PATTERN
from shopevents.schema.jsonschema import _money_schema

ERROR = {
    "type": "object",
    "required": ["status", "code", "message", "errors"],
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "validationErrors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "reason"],
                "properties": {"path": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
OBJ = {"type": "object"}
DOMAIN = {
    "type": "string",
    "description": "A host name (shop.example: it and its subdomains) or a URL prefix with its "
    "scheme (https://shop.example/es/)",
    "pattern": r"^(?:(?:\*\.|\.)?(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+(?::[0-9]{1,5})?"
    r"|https?://(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::[0-9]{1,4})?(?:/[!-~]*)?)$",
}
NULLABLE_STR = {"type": ["string", "null"]}


def _resp(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _resp(description, {"$ref": "#/components/schemas/Error"})


COMMON = {
    "401": _err("Missing, malformed, unknown or revoked API key"),
    "422": _err("A field is invalid; see validationErrors"),
    "503": _err("Storage unavailable; retry after Retry-After"),
}

WRITE_KEY = {
    "type": "object",
    "required": ["id", "name", "createdAt", "revokedAt", "state"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "revokedAt": {"type": ["string", "null"], "format": "date-time"},
        "state": {"enum": ["active", "revoked"]},
    },
}
WRITE_KEY_CREATED = {
    "type": "object",
    "required": ["id", "name", "writeKey"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "writeKey": {"type": "string"},
    },
}

CONTACT = {
    "type": "object",
    "required": ["id", "_isAnonymous", "_totalPurchases", "_totalPurchasesAmount"],
    "properties": {
        "id": {"type": "string"},
        "_email": NULLABLE_STR,
        "_isAnonymous": {"type": "boolean"},
        "_totalPurchases": {"type": "integer"},
        "_totalPurchasesAmount": {"type": "number"},
        "_averagePurchasesAmount": {"type": "number"},
        "_firstPurchaseDate": NULLABLE_STR,
        "_lastPurchaseDate": NULLABLE_STR,
    },
}
PURCHASE = {
    "type": "object",
    "required": ["purchaseId", "totalPrice", "totalQuantity", "products"],
    "properties": {
        "id": {"type": "string"},
        "purchaseId": {"type": "string"},
        "contactEmail": NULLABLE_STR,
        "totalPrice": {"type": "number"},
        "totalQuantity": {"type": "integer"},
        "products": {"type": "array"},
        "conflicts": {"type": "array"},
    },
}
PRODUCT = {
    "type": "object",
    "required": ["productId", "name", "unitPrice"],
    "properties": {
        "productId": {"type": "string"},
        "name": {"type": "string"},
        "unitPrice": {"type": "number"},
    },
}
CART = {
    "type": "object",
    "required": ["cartKey", "cartId", "status", "products"],
    "properties": {
        "cartKey": {"type": "string"},
        "cartId": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["active", "empty", "purchased", "abandoned", "recovered"],
        },
        "products": {"type": "array"},
        "history": {"type": "array"},
    },
}
STORE = {
    "type": "object",
    "required": ["id", "name", "currency", "timezone", "abandonAfterSeconds"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "currency": {"type": "string"},
        "timezone": {"type": "string"},
        "domains": {"type": "array", "items": {"type": "string"}},
        "abandonAfterSeconds": {"type": "integer"},
        "tagMode": {"type": "boolean"},
        "trackingEnabled": {"type": "boolean"},
        "excludedPaths": {"type": "array", "items": {"type": "string"}},
        "consentRequired": {"type": "boolean"},
        "honourGpc": {"type": "boolean"},
        "keepBots": {"type": "boolean"},
    },
}
CONTACT_PATCH = {
    "type": "object",
    "description": "Known contact fields (below) and any custom field id with its value.",
    "properties": {
        "_name": {"type": "string"},
        "_surname": {"type": "string"},
        "_birthdate": {"type": "string", "format": "date-time"},
        "_mobilePhone": {"type": "string"},
        "_newsletterSubscriptionStatus": {"enum": ["subscribed", "unsubscribed", "none"]},
        "_smsSubscriptionStatus": {"enum": ["subscribed", "unsubscribed", "none"]},
        "_emailStatus": {"enum": ["active", "bounced", "paused", "banned"]},
        "_mobilePhoneStatus": {"enum": ["active", "bounced", "paused"]},
        "_points": {"type": "integer"},
    },
}
# Not blank (for Python's str.strip()) and without NUL.
TEXT = "^[^\\x00]*[^\\s\\x00\\x1c-\\x1f\\x85][^\\x00]*$"
STORE_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": TEXT},
        "currency": {"enum": sorted(ISO_4217)},
        "timezone": {
            "description": "An IANA time zone, e.g. Europe/Madrid",
            "enum": sorted(available_timezones()),
        },
        "domains": {"type": "array", "items": DOMAIN},
        "abandonAfterSeconds": {"type": "integer", "minimum": 1, "maximum": 7776000},
        "tagMode": {"type": "boolean"},
        "trackingEnabled": {"type": "boolean"},
        "excludedPaths": {"type": "array", "items": {"type": "string", "format": "regex"}},
        "reportingCurrency": {"enum": sorted(ISO_4217)},
        "consentRequired": {"type": "boolean"},
        "honourGpc": {"type": "boolean"},
        "keepBots": {"type": "boolean"},
    },
}
_ID = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": TEXT}
_WHEN = {"type": "string", "format": "date-time"}
_REASON = {"type": "string", "maxLength": 1000}
REFUND = {
    "type": "object",
    "description": "A refund by `amount` (in the purchase's currency) or by `lines` (a return).",
    "oneOf": [
        {
            "required": ["refundId", "amount"],
            "not": {"required": ["lines"]},
        },
        {
            "required": ["refundId", "lines"],
            "not": {"required": ["amount"]},
        },
    ],
    "properties": {
        "refundId": {**_ID, "not": {"const": "cancellation"}},
        "refundedAt": _WHEN,
        "amount": {"type": "number", "minimum": 0.000001, "maximum": 10**12},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["productId", "quantity"],
                "properties": {
                    "productId": _ID,
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10**9},
                },
            },
        },
        "reason": _REASON,
    },
}
CANCELLATION = {
    "type": "object",
    "properties": {"cancelledAt": _WHEN, "reason": _REASON},
}
ADJUSTED = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": ["accepted", "duplicate"]},
        "pending": {"type": "boolean"},
        "amount": {"type": "number"},
        "left": {"type": "number"},
        "purchase": {"type": ["object", "null"]},
    },
}


def _adjustment_op(summary: str, op: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "operationId": op,
            "parameters": [_path_param("purchaseId", "The store's purchase id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {
                "201": _resp("Accepted: applied, or kept until the purchase arrives", ADJUSTED),
                "200": _resp("Duplicate: already recorded with the same content", ADJUSTED),
                "400": _err("The body is not JSON"),
                "409": _err(
                    "adjustment_conflict (the id is recorded with another content) or "
                    "adjustment_refused (more than is left; the message says what is)"
                ),
                "413": _err("The body is over the limit"),
                **COMMON,
            },
        }
    }


RATES = {
    "type": "object",
    "required": ["rates"],
    "properties": {
        "rates": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["date", "currency", "rate"],
                "properties": {
                    "date": {"type": "string", "format": "date"},
                    "currency": {"enum": sorted(ISO_4217)},
                    "rate": {"type": "number", "exclusiveMinimum": 0},
                },
            },
        }
    },
}


WEBHOOK_CREATE = {
    "type": "object",
    "required": ["url", "topics"],
    "properties": {
        "url": {
            "type": "string",
            "format": "uri",
            "pattern": "^https?://",
            "description": "http or https URL of the receiver",
        },
        "topics": {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": [
                    "purchase.created",
                    "purchase.conflict",
                    "cart.abandoned",
                    "cart.recovered",
                    "contact.created",
                    "contact.identified",
                    "contact.merged",
                    "ping",
                ]
            },
        },
        "description": {"type": "string"},
    },
}
DAY = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
REPORT_PARAMS: list[dict[str, Any]] = [
    {
        "name": "from",
        "in": "query",
        "schema": DAY,
        "description": "First day (YYYY-MM-DD, store time zone); default 29 days before `to` (30 days with `to`); "
        "at most 3,700 days before `to`, else 422",
    },
    {
        "name": "to",
        "in": "query",
        "schema": DAY,
        "description": "Last day (YYYY-MM-DD, store time zone), not before `from` (else 422); default today",
    },
    {"name": "interval", "in": "query", "schema": {"enum": ["day", "week", "month"]}},
]
REPORTS = [
    (
        "revenue",
        "Revenue and orders by interval, optionally split",
        "reportRevenue",
        [
            {
                "name": "groupBy",
                "in": "query",
                "schema": {"enum": ["source_type", "source_name", "payment_method"]},
            },
            {
                "name": "currency",
                "in": "query",
                "schema": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        ],
    ),
    (
        "carts",
        "Carts created, abandoned, purchased and recovered; recovery rate and revenue",
        "reportCarts",
        [],
    ),
    (
        "products",
        "Top products by revenue and units",
        "reportProducts",
        [
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 500},
            },
            {
                "name": "currency",
                "in": "query",
                "schema": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        ],
    ),
    ("data-quality", "Events by outcome and warnings by code, per day", "reportDataQuality", []),
    (
        "sources",
        "Visits, carts and revenue by traffic source and device: first and last touch",
        "reportSources",
        [
            {
                "name": "currency",
                "in": "query",
                "schema": {"type": "string", "pattern": "^[A-Z]{3}$"},
            }
        ],
    ),
]


POINTER = {"type": "string", "maxLength": 500, "pattern": "^(/([^~]|~[01])*)*$"}
CUSTOM_EVENT_TYPE_CREATE = {
    "type": "object",
    "required": ["alias", "contactEmail"],
    "properties": {
        "eventId": {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
            "description": "The type's id (e.g. Connectif's 24-hex id, kept by a migrating store); minted if absent",
        },
        "alias": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"},
        "contactEmail": {
            **POINTER,
            "minLength": 1,
            "description": "RFC 6901 JSON pointer of the contact's e-mail in the body, e.g. /email",
        },
        "payload": {
            "type": ["object", "null"],
            "maxProperties": 100,
            "additionalProperties": POINTER,
            "description": "Payload field -> JSON pointer in the body; absent or null keeps the whole body",
        },
    },
}
CUSTOM_EVENT_TYPE = {
    "type": "object",
    "required": ["id", "alias", "contactEmail", "payload", "createdAt"],
    "properties": {
        "id": {"type": "string"},
        "alias": {"type": "string"},
        "contactEmail": {"type": "string"},
        "payload": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        "createdAt": {"type": "string", "format": "date-time"},
    },
}
CUSTOM_EVENT_BODY = {
    "type": "object",
    "description": "`{email, payload}` as given, or any other object (Connectif's flat map of "
    "fields), mapped through the type's pointers like an ingest post",
    "properties": {
        "email": {"type": "string"},
        "payload": {"type": "object"},
        "createContact": {"type": "boolean", "default": True},
        "requestId": {"type": "string", "minLength": 1, "maxLength": 128},
    },
}
CUSTOM_EVENT_RECORDED = {
    "type": "object",
    "required": ["status", "eventId", "alias", "contactId", "email", "contactCreated", "payload"],
    "properties": {
        "status": {"enum": ["accepted", "duplicate"]},
        "eventId": {"type": "string"},
        "alias": {"type": "string"},
        "contactId": {"type": "string"},
        "email": {"type": "string"},
        "contactCreated": {"type": "boolean"},
        "payload": {"type": "object"},
        "duplicateRequest": {"type": "boolean"},
    },
}


def _custom_event_op(summary: str, op: str, param: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "operationId": op,
            "parameters": [
                param,
                {
                    "name": "createContact",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "boolean", "default": True},
                    "description": "false: refuse an e-mail no contact has (422 contact_not_found)",
                },
                {
                    "name": "requestId",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    "description": "A retry with the same requestId is answered from the first",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CUSTOM_EVENT_BODY}},
            },
            "responses": {
                "201": _resp("Recorded on the contact", CUSTOM_EVENT_RECORDED),
                "200": _resp("A repeated requestId: the first answer", CUSTOM_EVENT_RECORDED),
                "400": _err("The body is not JSON"),
                "404": _err("unknown_custom_event_type: no such type in this store"),
                "413": _err("The body is over the limit"),
                "422": _err(
                    "unmappable_custom_event (a pointer names nothing, the e-mail is not "
                    "valid), contact_not_found (createContact false), or validation_failed"
                ),
                "401": COMMON["401"],
                "503": COMMON["503"],
            },
        }
    }


def custom_event_paths() -> dict[str, Any]:
    type_id = _path_param("eventId", "The custom event type's id")
    return {
        "/api/custom-event-types": {
            "get": {
                "summary": "The store's custom event types",
                "operationId": "listCustomEventTypes",
                "responses": {
                    "200": _resp(
                        "Types, by alias",
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {"items": {"type": "array", "items": CUSTOM_EVENT_TYPE}},
                        },
                    ),
                    **COMMON,
                },
            },
            "post": {
                "summary": "Define a custom event type: its alias and the JSON pointers of the "
                "contact's e-mail and of the payload's fields",
                "operationId": "createCustomEventType",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": CUSTOM_EVENT_TYPE_CREATE}},
                },
                "responses": {
                    "201": _resp("Created", CUSTOM_EVENT_TYPE),
                    "400": _err("The body is not JSON"),
                    "409": _err("custom_event_type_conflict: the eventId or alias is taken"),
                    "413": _err("The body is over the limit"),
                    **COMMON,
                },
            },
        },
        "/api/custom-event-types/{eventId}": {
            "get": {
                "summary": "One custom event type",
                "operationId": "getCustomEventType",
                "parameters": [type_id],
                "responses": {
                    "200": _resp("The type", CUSTOM_EVENT_TYPE),
                    "404": _err("No such type"),
                    **COMMON,
                },
            },
            "delete": {
                "summary": "Remove a custom event type (the events recorded stay)",
                "operationId": "deleteCustomEventType",
                "parameters": [type_id],
                "responses": {
                    "204": {"description": "Removed"},
                    "404": _err("No such type"),
                    **COMMON,
                },
            },
        },
        "/api/custom-events/alias/{alias}": _custom_event_op(
            "Record a custom event of the type with this alias on the contact it names",
            "createCustomEventByAlias",
            _path_param("alias", "The custom event type's alias"),
        ),
        "/api/custom-events/event-id/{eventId}": _custom_event_op(
            "Record a custom event of the type with this id on the contact it names",
            "createCustomEventByEventId",
            type_id,
        ),
    }


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": description,
    }


@cache
def _components() -> dict[str, Any]:
    (_schemas, comps) = msgspec.json.schema_components(
        [m.PurchaseCreation, m.ProductCreation],
        schema_hook=_money_schema,
        ref_template="#/components/schemas/{name}",
    )
    comps["Error"] = ERROR
    comps["Contact"] = CONTACT
    comps["Purchase"] = PURCHASE
    comps["Product"] = PRODUCT
    comps["Cart"] = CART
    comps["Store"] = STORE
    return comps


def openapi_document(base_url: str) -> dict[str, Any]:
    json_body = lambda ref: {"required": True, "content": {"application/json": {"schema": ref}}}
    email = {
        "name": "email",
        "in": "path",
        "required": True,
        "description": "The contact's e-mail",
        "schema": {
            "type": "string",
            "pattern": EMAIL_PATTERN,
            "maxLength": 254,
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "shopevents REST API",
            "version": "1",
            "description": "Connectif-shaped server API. Authenticate with `Authorization: apiKey {keyId}:{keySecret}`.",
        },
        "servers": [{"url": base_url}],
        "security": [{"apiKey": []}],
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`apiKey {keyId}:{keySecret}`",
                }
            },
            "schemas": _components(),
        },
        "paths": {
            "/api/purchases/": {
                "post": {
                    "summary": "Record a purchase (same ledger as the browser: a resend is a duplicate)",
                    "operationId": "createPurchase",
                    "requestBody": json_body({"$ref": "#/components/schemas/PurchaseCreation"}),
                    "responses": {
                        "201": _resp(
                            "Accepted: recorded and counted",
                            {
                                "type": "object",
                                "required": ["status", "purchase"],
                                "properties": {
                                    "status": {"const": "accepted"},
                                    "purchase": {"$ref": "#/components/schemas/Purchase"},
                                    "warnings": {"type": "array"},
                                },
                            },
                        ),
                        "200": _resp(
                            "Duplicate: already recorded with the same content; nothing counted twice",
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"const": "duplicate"}},
                            },
                        ),
                        "400": _err("The body is not JSON"),
                        "409": _err(
                            "Conflict: the purchaseId is recorded with a different content; kept for review, not counted"
                        ),
                        "413": _err("The body is over the limit"),
                        **COMMON,
                    },
                }
            },
            "/api/purchases/purchase-id/{purchaseId}": {
                "get": {
                    "summary": "A purchase by the store's purchaseId, with any conflicting versions",
                    "operationId": "getPurchase",
                    "parameters": [_path_param("purchaseId", "The store's purchase id")],
                    "responses": {
                        "200": _resp("The purchase", {"$ref": "#/components/schemas/Purchase"}),
                        "404": _err("No such purchase in this store"),
                        **COMMON,
                    },
                }
            },
            "/api/purchases/purchase-id/{purchaseId}/refunds": _adjustment_op(
                "Refund a purchase by amount or by lines",
                "refundPurchase",
                REFUND,
            ),
            "/api/purchases/purchase-id/{purchaseId}/cancellation": _adjustment_op(
                "Cancel a purchase: takes all that is left",
                "cancelPurchase",
                CANCELLATION,
            ),
            "/api/rates": {
                "post": {
                    "summary": "Load exchange rates: an ECB CSV or XML file as the body, or JSON",
                    "operationId": "loadRates",
                    "requestBody": json_body(RATES),
                    "responses": {
                        "200": _resp("Loaded", OBJ),
                        "400": _err("The body is not JSON"),
                        "413": _err("The body is over the limit"),
                        **COMMON,
                    },
                },
                "get": {
                    "summary": "The server's exchange rates of a day (units per euro)",
                    "operationId": "getRates",
                    "parameters": [
                        {
                            "name": "date",
                            "in": "query",
                            "schema": {"type": "string", "format": "date"},
                        }
                    ],
                    "responses": {"200": _resp("The rates", OBJ), **COMMON},
                },
            },
            "/api/contacts/{email}": {
                "get": {
                    "summary": "A contact by e-mail, with purchase aggregates, trackers and merges",
                    "operationId": "getContact",
                    "parameters": [email],
                    "responses": {
                        "200": _resp("The contact", {"$ref": "#/components/schemas/Contact"}),
                        "404": _err("No such contact"),
                        **COMMON,
                    },
                },
                "patch": {
                    "summary": "Update a contact's fields; creates the contact if missing",
                    "operationId": "patchContact",
                    "parameters": [email],
                    "requestBody": json_body(CONTACT_PATCH),
                    "responses": {
                        "200": _resp("Updated", {"$ref": "#/components/schemas/Contact"}),
                        "201": _resp("Created", {"$ref": "#/components/schemas/Contact"}),
                        "400": _err("The body is not JSON"),
                        "413": _err("The body is over the limit"),
                        **COMMON,
                    },
                },
                "delete": erase_contact(email, COMMON),
            },
            **erasure_paths(COMMON, _err("No such erasure in this store")),
            **bulk_paths(COMMON, _resp, _err),
            "/api/contacts/{email}/activity": {
                "get": {
                    "summary": "The contact's activity timeline, newest first, paginated",
                    "operationId": "getContactActivity",
                    "parameters": [
                        email,
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "The `nextCursor` of the previous page",
                            "schema": {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                        },
                    ],
                    "responses": {
                        "200": _resp(
                            "A page of activities",
                            {
                                "type": "object",
                                "required": ["items"],
                                "properties": {
                                    "items": {"type": "array"},
                                    "nextCursor": NULLABLE_STR,
                                },
                            },
                        ),
                        "404": _err("No such contact"),
                        **COMMON,
                    },
                }
            },
            "/api/products/product-id/{productId}": {
                "get": {
                    "summary": "A catalog product by the store's product id",
                    "operationId": "getProduct",
                    "parameters": [_path_param("productId", "The store's product id")],
                    "responses": {
                        "200": _resp("The product", {"$ref": "#/components/schemas/Product"}),
                        "404": _err("No such product"),
                        **COMMON,
                    },
                },
                "patch": {
                    "summary": "Create or update a product (fields given replace the stored ones)",
                    "operationId": "patchProduct",
                    "parameters": [_path_param("productId", "The store's product id")],
                    "requestBody": json_body({"$ref": "#/components/schemas/ProductCreation"}),
                    "responses": {
                        "200": _resp("Updated", {"$ref": "#/components/schemas/Product"}),
                        "201": _resp("Created", {"$ref": "#/components/schemas/Product"}),
                        "400": _err("The body is not JSON"),
                        "413": _err("The body is over the limit"),
                        **COMMON,
                    },
                },
            },
            "/api/carts": {
                "get": {
                    "summary": "Carts, newest first, filtered by state and contact",
                    "operationId": "listCarts",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {
                                "enum": ["active", "empty", "purchased", "abandoned", "recovered"]
                            },
                        },
                        {"name": "contact", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 1000000000},
                        },
                    ],
                    "responses": {
                        "200": _resp(
                            "A page of carts",
                            {
                                "type": "object",
                                "required": ["items"],
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Cart"},
                                    }
                                },
                            },
                        ),
                        **COMMON,
                    },
                }
            },
            "/api/carts/{cartKey}": {
                "get": {
                    "summary": "One cart with its lines, totals and history of transitions",
                    "operationId": "getCart",
                    "parameters": [
                        _path_param("cartKey", "The cart's key (from a list or a webhook)")
                    ],
                    "responses": {
                        "200": _resp("The cart", {"$ref": "#/components/schemas/Cart"}),
                        "404": _err("No such cart"),
                        **COMMON,
                    },
                }
            },
            "/api/merges/{mergeId}/undo": {
                "post": {
                    "summary": "Undo a contact merge",
                    "operationId": "undoMerge",
                    "parameters": [_path_param("mergeId", "The merge id")],
                    "responses": {
                        "200": _resp(
                            "Undone", {"type": "object", "required": ["mergeId", "status"]}
                        ),
                        "404": _err("No such merge, or already undone"),
                        **COMMON,
                    },
                }
            },
            "/api/webhooks": {
                "get": {
                    "summary": "The store's webhook endpoints with delivery counts and success rate",
                    "operationId": "listWebhooks",
                    "responses": {
                        "200": _resp(
                            "Endpoints",
                            {
                                "type": "object",
                                "required": ["items"],
                                "properties": {"items": {"type": "array"}},
                            },
                        ),
                        **COMMON,
                    },
                },
                "post": {
                    "summary": "Register an endpoint; the answer holds its signing secret, shown once",
                    "operationId": "createWebhook",
                    "requestBody": json_body(WEBHOOK_CREATE),
                    "responses": {
                        "201": _resp("Created", {"type": "object", "required": ["id", "secret"]}),
                        "400": _err("The body is not JSON"),
                        "413": _err("The body is over the limit"),
                        **COMMON,
                    },
                },
            },
            "/api/webhooks/{endpointId}": {
                "get": {
                    "summary": "One endpoint",
                    "operationId": "getWebhook",
                    "parameters": [_path_param("endpointId", "The endpoint id")],
                    "responses": {
                        "200": _resp("The endpoint", OBJ),
                        "404": _err("No such endpoint"),
                        **COMMON,
                    },
                },
                "delete": {
                    "summary": "Remove an endpoint and its deliveries",
                    "operationId": "deleteWebhook",
                    "parameters": [_path_param("endpointId", "The endpoint id")],
                    "responses": {
                        "204": {"description": "Removed"},
                        "404": _err("No such endpoint"),
                        **COMMON,
                    },
                },
            },
            "/api/webhooks/{endpointId}/ping": {
                "post": {
                    "summary": "Queue a `ping` delivery to the endpoint",
                    "operationId": "pingWebhook",
                    "parameters": [_path_param("endpointId", "The endpoint id")],
                    "responses": {
                        "202": _resp("Queued", {"type": "object", "required": ["deliveryId"]}),
                        "404": _err("No such endpoint"),
                        **COMMON,
                    },
                }
            },
            "/api/webhooks/{endpointId}/deliveries": {
                "get": {
                    "summary": "The endpoint's deliveries, newest first",
                    "operationId": "listWebhookDeliveries",
                    "parameters": [
                        _path_param("endpointId", "The endpoint id"),
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"enum": ["pending", "delivered", "failed", "dead"]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        {
                            "name": "offset",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 10000000},
                        },
                    ],
                    "responses": {
                        "200": _resp("Deliveries", {"type": "object", "required": ["items"]}),
                        "404": _err("No such endpoint"),
                        **COMMON,
                    },
                }
            },
            "/api/webhooks/deliveries/{deliveryId}": {
                "get": {
                    "summary": "One delivery with its attempts",
                    "operationId": "getWebhookDelivery",
                    "parameters": [_path_param("deliveryId", "The delivery id")],
                    "responses": {
                        "200": _resp("The delivery", OBJ),
                        "404": _err("No such delivery"),
                        **COMMON,
                    },
                }
            },
            "/api/webhooks/deliveries/{deliveryId}/replay": {
                "post": {
                    "summary": "Queue a failed or dead delivery again (same id)",
                    "operationId": "replayWebhookDelivery",
                    "parameters": [_path_param("deliveryId", "The delivery id")],
                    "responses": {
                        "202": _resp("Queued again", OBJ),
                        "404": _err("No such delivery"),
                        **COMMON,
                    },
                }
            },
            **{
                f"/api/reports/{name}": {
                    "get": {
                        "summary": summary,
                        "operationId": op,
                        "parameters": REPORT_PARAMS + extra,
                        "responses": {"200": _resp("The report", OBJ), **COMMON},
                    }
                }
                for name, summary, op, extra in REPORTS
            },
            "/api/write-keys": {
                "post": {
                    "summary": "Create a Segment write key (shown once; stored hashed)",
                    "operationId": "createWriteKey",
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"name": {"type": "string", "maxLength": 100}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _resp("The new key", WRITE_KEY_CREATED),
                        "400": _err("The body is not JSON"),
                        **COMMON,
                    },
                },
                "get": {
                    "summary": "The store's Segment write keys (without the keys)",
                    "operationId": "listWriteKeys",
                    "responses": {
                        "200": _resp(
                            "The keys",
                            {
                                "type": "object",
                                "required": ["writeKeys"],
                                "properties": {"writeKeys": {"type": "array", "items": WRITE_KEY}},
                            },
                        ),
                        **COMMON,
                    },
                },
            },
            "/api/write-keys/{keyId}": {
                "delete": {
                    "summary": "Revoke a Segment write key",
                    "operationId": "revokeWriteKey",
                    "parameters": [_path_param("keyId", "The write key's id")],
                    "responses": {
                        "204": {"description": "Revoked"},
                        "404": _err("No such active key"),
                        **COMMON,
                    },
                },
            },
            **custom_event_paths(),
            "/api/store": {
                "get": {
                    "summary": "The store's settings",
                    "operationId": "getStore",
                    "responses": {
                        "200": _resp("The store", {"$ref": "#/components/schemas/Store"}),
                        **COMMON,
                    },
                },
                "patch": {
                    "summary": "Change the store's settings (e.g. abandonAfterSeconds)",
                    "operationId": "patchStore",
                    "requestBody": json_body(STORE_PATCH),
                    "responses": {
                        "200": _resp("The store", {"$ref": "#/components/schemas/Store"}),
                        "400": _err("The body is not JSON"),
                        **COMMON,
                    },
                },
            },
        },
    }
