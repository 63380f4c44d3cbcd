"""Purchases, their refunds and cancellation, as the REST API answers them."""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, UnsetType

from shopevents.api.shapes.base import Answer, FieldWarning, PageLinks
from shopevents.api.shapes.catalog import BasketLine


class PurchaseSummary(Answer):
    """A recorded purchase: the ledger's columns and the products as sent."""

    id: str
    purchaseId: str
    contactId: str | None
    contactEmail: str | None
    cartId: str | None
    channel: str
    purchaseDate: str
    purchaseDateAsSent: str | None
    totalPrice: float
    totalQuantity: int
    currency: str
    paymentMethod: str | None
    source_type: str | None
    source_name: str | None
    recovered: bool
    products: list[BasketLine]
    createdAt: str
    updatedAt: str


class AdjustedLine(Answer):
    productId: str
    quantity: int
    amount: float


class Adjustment(Answer):
    """An applied refund or cancellation."""

    adjustmentId: str
    kind: Literal["refund", "cancellation"]
    adjustedAt: str
    amount: float
    lines: list[AdjustedLine] | None
    reason: str | None
    channel: str
    receivedAt: str


class Conflict(Answer):
    """A later purchase with the same id and another content, kept for review."""

    receivedAt: str
    channel: str
    data: dict[str, Any]


class Purchase(PurchaseSummary):
    """A purchase with its refunds, cancellation, state and conflicts."""

    state: Literal["active", "partially_refunded", "refunded", "cancelled"]
    refunded: float
    netTotal: float
    adjustments: list[Adjustment]
    conflicts: list[Conflict]


class PurchasePage(Answer):
    items: list[PurchaseSummary]
    nextCursor: str | None
    links: PageLinks


class PurchaseRecorded(Answer):
    """What became of a purchase sent: accepted, or a duplicate of the one recorded."""

    status: Literal["accepted", "duplicate"]
    warnings: list[FieldWarning]
    purchase: Purchase


class Adjusted(Answer):
    """What became of a refund or a cancellation, and the purchase after it (null while the
    purchase has not arrived)."""

    status: Literal["accepted", "duplicate"]
    purchase: Purchase | None
    pending: bool | UnsetType = UNSET
    amount: float | UnsetType = UNSET
    left: float | UnsetType = UNSET
