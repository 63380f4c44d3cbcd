"""Webhooks, imports, custom event types and events, Segment write keys and currency rates
as the REST API answers them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType, field

from shopevents.api.shapes.base import Answer


class WebhookStats(Answer):
    """Deliveries by status, and the last 24 hours of attempts."""

    pending: int
    delivered: int
    failed: int
    dead: int
    successRate: float | None
    attempts24h: int
    failedAttempts24h: int
    meanLatencyMs24h: float | None
    lastAttemptAt: str | None
    lastStatusCode: int | None
    lastError: str | None


class Webhook(Answer):
    """A webhook endpoint (never its secret)."""

    id: str
    url: str
    topics: list[str]
    enabled: bool
    description: str
    createdAt: str
    stats: WebhookStats | UnsetType = UNSET


class WebhookList(Answer):
    items: list[Webhook]
    topics: list[str]


class WebhookCreated(Webhook, kw_only=True):
    """A new endpoint with its signing secret, shown this once."""

    secret: str


class Delivery(Answer):
    id: str
    endpointId: str
    topic: str
    status: Literal["pending", "delivered", "failed", "dead"]
    attempts: int
    nextAttemptAt: str | None
    createdAt: str
    finishedAt: str | None
    lastStatusCode: int | None
    lastError: str | None
    replays: int
    occurredAt: str
    inFlight: bool


class DeliveryPage(Answer):
    items: list[Delivery]


class Attempt(Answer):
    attempt: int
    at: str
    statusCode: int | None
    latencyMs: int | None
    error: str | None
    response: str | None
    outcome: str


class DeliveryDetail(Delivery):
    """A delivery with the body it sends and its attempts."""

    body: dict[str, Any]
    attemptLog: list[Attempt]


class DeliveryQueued(Answer):
    deliveryId: str
    endpointId: str
    status: Literal["pending"]


class ImportFault(Answer):
    """A row of the file that could not be imported, and why."""

    row: Annotated[int | None, Meta(description="Data row, from 1 (0: the file itself)")]
    line: Annotated[int | None, Meta(description="Line of the file where the row starts")]
    field: str | None
    code: str
    expected: str | None
    got: str | None
    message: str


class ImportReport(Answer):
    """An import: what it read, created, updated and left unchanged, and its errors."""

    id: str
    type: str
    status: Literal["writing", "finished", "failed", "undone", "checked"]
    source: str | None
    rows: int
    records: int
    created: int
    updated: int
    unchanged: int
    errorCount: int
    errors: list[ImportFault]
    startedAt: str | None
    finishedAt: str | None


class ImportList(Answer):
    items: list[ImportReport]


class CustomEventType(Answer):
    """A custom event type: its alias and the JSON pointers of the e-mail and payload."""

    id: str
    alias: str
    contactEmail: str
    payload: dict[str, str] | None
    createdAt: str


class CustomEventTypeList(Answer):
    items: list[CustomEventType]


class CustomEventRecorded(Answer):
    """A custom event recorded on a contact (or the first answer to a repeated requestId)."""

    status: Literal["accepted", "duplicate"]
    eventId: str
    alias: str
    contactId: str
    email: str
    contactCreated: bool
    payload: dict[str, Any]
    duplicateRequest: bool | UnsetType = UNSET


class WriteKey(Answer):
    """A Segment write key (without the key)."""

    id: str
    name: str
    createdAt: str
    revokedAt: str | None
    state: Literal["active", "revoked"]


class WriteKeyList(Answer):
    writeKeys: list[WriteKey]


class WriteKeyCreated(Answer):
    """A new write key, shown this once."""

    id: str
    name: str
    writeKey: str


class Rate(Answer):
    date: str
    currency: str
    rate: float


class RateList(Answer):
    """Rates to the base currency, by day."""

    base: str
    rates: list[Rate]


class RatesLoaded(Answer):
    loaded: int
    from_: str | None = field(name="from")
    to: str | None
