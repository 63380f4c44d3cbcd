"""Contacts, their activity, trackers and merges, and their erasure, as the REST API answers
them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType, field

from shopevents.api.shapes.base import Answer, FieldWarning, PageLinks


class Contact(Answer, forbid_unknown_fields=False, kw_only=True):
    """A contact: its known fields, the store's custom fields (any other key, by field id) and
    its purchase totals (gross, and net of refunds and cancellations)."""

    id: str
    email: str | None = field(name="_email")
    name: str | UnsetType = field(default=UNSET, name="_name")
    surname: str | UnsetType = field(default=UNSET, name="_surname")
    birthdate: str | UnsetType = field(default=UNSET, name="_birthdate")
    newsletterSubscriptionStatus: str | UnsetType = field(
        default=UNSET, name="_newsletterSubscriptionStatus"
    )
    emailStatus: str | UnsetType = field(default=UNSET, name="_emailStatus")
    mobilePhone: str | UnsetType = field(default=UNSET, name="_mobilePhone")
    mobilePhoneStatus: str | UnsetType = field(default=UNSET, name="_mobilePhoneStatus")
    smsSubscriptionStatus: str | UnsetType = field(default=UNSET, name="_smsSubscriptionStatus")
    points: int | UnsetType = field(default=UNSET, name="_points")
    createdAt: str = field(name="_createdAt")
    updatedAt: str = field(name="_updatedAt")
    isAnonymous: bool = field(name="_isAnonymous")
    mergedInto: str | UnsetType = field(default=UNSET, name="_mergedInto")
    totalPurchases: int = field(name="_totalPurchases")
    totalPurchasesAmount: float = field(name="_totalPurchasesAmount")
    averagePurchasesAmount: float = field(name="_averagePurchasesAmount")
    refundedPurchasesAmount: float = field(name="_refundedPurchasesAmount")
    netPurchases: int = field(name="_netPurchases")
    netPurchasesAmount: float = field(name="_netPurchasesAmount")
    averageNetPurchasesAmount: float = field(name="_averageNetPurchasesAmount")
    firstPurchaseDate: str | None = field(name="_firstPurchaseDate")
    lastPurchaseDate: str | None = field(name="_lastPurchaseDate")


class Tracker(Answer):
    trackerId: str
    firstSeen: str
    lastSeen: str


class Merge(Answer):
    """A merge of one contact into another (undone if `undoneAt` is set)."""

    mergeId: int
    fromContact: str
    intoContact: str
    requestId: int | None
    at: str
    undoneAt: str | None


class ContactSheet(Contact, forbid_unknown_fields=False, kw_only=True):
    """A contact with its trackers and the merges it took part in."""

    trackers: list[Tracker]
    merges: list[Merge]


class ContactWritten(Contact, forbid_unknown_fields=False, kw_only=True):
    """A contact after a write, with the warnings of the fields sent."""

    warnings: list[FieldWarning]


class ContactPage(Answer):
    items: list[Contact]
    nextCursor: str | None
    links: PageLinks


class Activity(Answer):
    """One entry of a contact's timeline; `data` depends on `type`."""

    id: int
    type: str
    date: str
    eventId: int | None
    data: dict[str, Any]


class ActivityPage(Answer):
    items: list[Activity]
    nextCursor: str | None
    links: PageLinks


class MergeUndone(Answer):
    mergeId: int
    status: Literal["undone"]


Counts = Annotated[dict[str, int], Meta(description="Rows erased or emptied, per table")]
ErasureStatus = Literal["done", "pending"]


class ErasureRequested(Answer):
    """An erasure: done at once (`done`), or `pending` while the worker finishes it. `counts`
    holds the rows removed, by table."""

    id: str
    status: ErasureStatus
    found: Annotated[bool, Meta(description="False when no contact had this e-mail")]
    counts: Counts


class Erasure(Answer):
    """An entry of the erasure audit log."""

    id: str
    status: ErasureStatus
    actor: Annotated[str, Meta(description="Who asked: `api-key:{keyId}`, `cli`, `user:{name}`")]
    requestedAt: str
    finishedAt: str | None
    counts: Counts


class ErasureLog(Answer):
    erasures: list[Erasure]


class Retention(Answer):
    """How long the store keeps raw requests and events, and how far they are pruned."""

    retentionDays: int
    default: Annotated[bool, Meta(description="True: the server's default applies")]
    prunedUntil: Annotated[
        str | None,
        Meta(description="Requests received before this have had their raw body emptied"),
    ]
