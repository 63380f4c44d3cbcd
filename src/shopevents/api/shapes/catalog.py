"""Products, basket lines, carts and the store's settings as the REST API answers them."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType, field

from shopevents.api.shapes.base import Answer, FieldWarning, PageLinks


class ProductDetails(Answer):
    """The optional product fields, present when the store sent them."""

    description: str | UnsetType | None = UNSET
    imageUrl: str | UnsetType | None = UNSET
    thumbnailUrl: str | UnsetType | None = UNSET
    categories: list[str] | UnsetType | None = UNSET
    tags: list[str] | UnsetType | None = UNSET
    brand: str | UnsetType | None = UNSET
    reviewCount: int | UnsetType | None = UNSET
    rating: float | UnsetType | None = UNSET
    ratingCount: int | UnsetType | None = UNSET
    relatedExternalProductIds: list[str] | UnsetType | None = UNSET
    priority: int | UnsetType | None = UNSET
    unitPriceOriginal: float | UnsetType | None = UNSET
    unitPriceWithoutVAT: float | UnsetType | None = UNSET
    discountedAmount: float | UnsetType | None = UNSET
    discountedPercentage: float | UnsetType | None = UNSET
    publishedAt: str | UnsetType | None = UNSET
    customField1: str | UnsetType | None = UNSET
    customField2: str | UnsetType | None = UNSET
    customField3: str | UnsetType | None = UNSET
    inStockUnits: int | UnsetType | None = UNSET
    isBlacklisted: bool | UnsetType | None = UNSET


class BasketLine(ProductDetails, kw_only=True):
    """A purchased product as the store sent it."""

    productId: str
    name: str
    productDetailUrl: str
    unitPrice: float
    quantity: int
    price: float
    availability: str | UnsetType | None = UNSET


class Product(ProductDetails, kw_only=True):
    """A catalog product: the fields last sent, and when it was first and last seen."""

    productId: str
    name: str
    productDetailUrl: str | UnsetType = UNSET
    unitPrice: float
    availability: str
    firstSeen: str
    lastSeen: str
    createdAt: str
    updatedAt: str


class ProductPage(Answer):
    items: list[Product]
    nextCursor: str | None
    links: PageLinks


class ProductWritten(Product, kw_only=True):
    """A product after a write, with the warnings of the fields sent."""

    warnings: list[FieldWarning]


class CartLine(Answer):
    productId: str
    name: str
    quantity: int
    price: float
    unitPrice: float
    url: str


class CartTransition(Answer):
    at: str
    from_: str | None = field(name="from")
    to: str
    reason: str
    requestId: int | None


class Cart(Answer):
    """A cart: its lines, totals, state and, once bought, its purchase."""

    cartKey: str
    contactId: str | None
    contactEmail: str | None
    cartId: str
    status: Literal["active", "empty", "purchased", "abandoned", "recovered"]
    products: list[CartLine]
    totalPrice: float
    totalQuantity: int
    currency: str | None
    cartRecoveryUrl: str | None
    createdAt: str
    updatedAt: str
    abandonAt: str | None
    purchaseId: str | None
    purchaseLink: str | None


class CartWithHistory(Cart):
    """A cart with its transitions, oldest first."""

    history: list[CartTransition]


class CartPage(Answer):
    items: list[Cart]


class Store(Answer):
    """The store's settings."""

    id: str
    name: str
    currency: str
    reportingCurrency: str
    timezone: str
    domains: list[str]
    abandonAfterSeconds: int
    tagMode: bool
    trackingEnabled: bool
    excludedPaths: list[str]
    keepBots: bool
    consentRequired: bool
    honourGpc: bool
