"""The JSON request bodies the REST API reads with its own checks (lenient, with its own
messages), as Structs: the OpenAPI document's schema of each body is generated from its
Struct, and each handler reads what its checks made of a body through the Struct
(`base.conform`), so it never accepts a body the document refuses. Each Struct is a body's
canonical form; what a handler also accepts (`"30m"` for a delay, `"eur"` for EUR, `3.0` for
3) is said in the descriptions. Refunds and cancellations are in `adjustment_requests`."""

from __future__ import annotations

import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from msgspec import UNSET, Meta, UnsetType

from shopevents.api.openapi_common import TEXT
from shopevents.api.shapes.base import Body
from shopevents.domain import custom_events as ce
from shopevents.domain.outbox import TOPICS
from shopevents.domain.retention import MAX_DAYS, MIN_DAYS
from shopevents.domain.store_settings import MAX_DELAY, MIN_DELAY
from shopevents.schema import models as m

# Documented only (like `models.CurrencyCode`): the handlers' own rules check these, and
# accept a little more (an IPv6 literal or a Unicode host name as a domain, any zone
# `zoneinfo` reads).
TimeZone = Annotated[
    str,
    Meta(
        extra_json_schema={
            "enum": sorted(available_timezones()),
            "description": "An IANA time zone, e.g. Europe/Madrid",
        }
    ),
]
Domain = Annotated[
    str,
    Meta(
        extra_json_schema={
            "description": "A host name (shop.example: it and its subdomains) or a URL prefix "
            "with its scheme (https://shop.example/es/)",
            "pattern": r"^(?:(?:\*\.|\.)?(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+(?::[0-9]{1,5})?"
            r"|https?://(?:[a-z0-9-]+\.)*[a-z0-9-]+(?::[0-9]{1,4})?(?:/[!-~]*)?)$",
        }
    ),
]
Regex = Annotated[str, Meta(pattern=r"^[^\x00]*$", extra_json_schema={"format": "regex"})]


class StorePatch(Body, forbid_unknown_fields=True):
    """Settings to change; the others keep their values. Also read: a currency in any case,
    a delay as a text with a unit (`30m`, `2h`, `1d`), `"on"`/`"off"` for a flag."""

    name: Annotated[str, Meta(pattern=TEXT)] | UnsetType = UNSET
    currency: m.CurrencyCode | UnsetType = UNSET
    timezone: TimeZone | UnsetType = UNSET
    domains: list[Domain] | UnsetType = UNSET
    abandonAfterSeconds: Annotated[int, Meta(ge=MIN_DELAY, le=MAX_DELAY)] | UnsetType = UNSET
    tagMode: bool | UnsetType = UNSET
    trackingEnabled: bool | UnsetType = UNSET
    excludedPaths: list[Regex] | UnsetType = UNSET
    reportingCurrency: m.CurrencyCode | UnsetType = UNSET
    consentRequired: bool | UnsetType = UNSET
    honourGpc: bool | UnsetType = UNSET
    keepBots: bool | UnsetType = UNSET


class RateEntry(Body):
    date: datetime.date
    currency: m.CurrencyCode
    rate: Annotated[float, Meta(gt=0)]


class RatesUpload(Body):
    """Exchange rates as JSON (an ECB CSV or XML file is read too)."""

    rates: list[RateEntry]


class WebhookCreation(Body):
    url: Annotated[
        str,
        Meta(
            pattern="^[Hh][Tt][Tt][Pp][Ss]?://",
            description="http or https URL of the receiver",
            extra_json_schema={"format": "uri"},
        ),
    ]
    topics: Annotated[
        list[Annotated[str, Meta(extra_json_schema={"enum": list(TOPICS)})]], Meta(min_length=1)
    ]
    description: str = ""


Pointer = Annotated[str, Meta(max_length=ce.MAX_POINTER, pattern=ce.POINTER_PATTERN)]


class CustomEventTypeCreation(Body, kw_only=True):
    eventId: (
        Annotated[
            str,
            Meta(
                pattern=ce.ID_PATTERN,
                description="The type's id (e.g. Connectif's 24-hex id, kept by a migrating "
                "store); minted if absent",
            ),
        ]
        | UnsetType
    ) = UNSET
    alias: Annotated[str, Meta(pattern=ce.ALIAS_PATTERN)]
    contactEmail: Annotated[
        Pointer,
        Meta(
            min_length=1,
            description="RFC 6901 JSON pointer of the contact's e-mail in the body, e.g. /email",
        ),
    ]
    payload: (
        Annotated[
            dict[Annotated[str, Meta(min_length=1, max_length=100)], Pointer],
            Meta(
                max_length=ce.MAX_FIELDS,
                description="Payload field -> JSON pointer in the body; absent or null keeps "
                "the whole body",
            ),
        ]
        | None
    ) = None


class CustomEventBody(Body):
    """`{email, payload}` as given, or any other object (Connectif's flat map of fields),
    mapped through the type's pointers like an ingest post."""

    email: str | UnsetType = UNSET
    payload: dict[str, Any] | UnsetType = UNSET
    createContact: bool = True
    requestId: (
        Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[^\x00]*$")] | UnsetType
    ) = UNSET


class RetentionPatch(Body):
    retentionDays: Annotated[int, Meta(ge=MIN_DAYS, le=MAX_DAYS)] | None

    @classmethod
    def refine_schema(cls, schema: dict[str, Any]) -> None:
        schema["properties"]["retentionDays"]["description"] = "Days; null: the default (90)"


class WriteKeyCreation(Body):
    name: Annotated[str, Meta(max_length=100, pattern=r"^[^\x00]*$")] | UnsetType = UNSET
