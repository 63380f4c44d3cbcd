"""The request bodies the REST API reads by hand (leniently, with its own checks), as JSON
Schemas: store settings, contact fields, refunds and cancellations, currency rates, webhooks,
custom event types and events, retention and write keys."""

from __future__ import annotations

from zoneinfo import available_timezones

from shopevents.api.openapi_common import TEXT
from shopevents.domain.outbox import TOPICS
from shopevents.schema.currencies import ISO_4217

DOMAIN = {
    "type": "string",
    "description": "A host name (shop.example: it and its subdomains) or a URL prefix with its "
    "scheme (https://shop.example/es/)",
    "pattern": r"^(?:(?:\*\.|\.)?(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+(?::[0-9]{1,5})?"
    r"|https?://(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::[0-9]{1,4})?(?:/[!-~]*)?)$",
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
ID = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": TEXT}
WHEN = {"type": "string", "format": "date-time"}
REASON = {"type": "string", "maxLength": 1000}
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
        "refundId": {**ID, "not": {"const": "cancellation"}},
        "refundedAt": WHEN,
        "amount": {"type": "number", "minimum": 0.000001, "maximum": 10**12},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["productId", "quantity"],
                "properties": {
                    "productId": ID,
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10**9},
                },
            },
        },
        "reason": REASON,
    },
}
CANCELLATION = {
    "type": "object",
    "properties": {"cancelledAt": WHEN, "reason": REASON},
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
        "topics": {"type": "array", "minItems": 1, "items": {"enum": list(TOPICS)}},
        "description": {"type": "string"},
    },
}
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
RETENTION_PATCH = {
    "type": "object",
    "required": ["retentionDays"],
    "properties": {
        "retentionDays": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 3650,
            "description": "Days; null: the default (90)",
        }
    },
}
WRITE_KEY_CREATE = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 100}},
}
IMPORT = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "type": {"enum": ["products", "contacts"]},
                    "format": {"enum": ["csv", "jsonl"]},
                    "delimiter": {"type": "string"},
                    "file": {"type": "string", "format": "binary"},
                },
            }
        },
    },
}
"""The import's request body (a file), as a request body object."""
