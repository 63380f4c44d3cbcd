"""The Connectif data models as msgspec Structs (reference §4–§5).

Field names on the wire are Connectif's (camelCase, `_name`, `source_type`). Amounts are
`Money` (an exact Decimal, never a float); quantities are whole numbers; dates are kept as
the text the client sent and parsed leniently by `schema.dates`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

from shopevents.schema.currencies import ISO_4217


class Money(Decimal):
    """An exact, non-negative amount read from a JSON number (never from a float)."""


Rating = Annotated[Money, Meta(extra_json_schema={"maximum": 5})]
Percentage = Annotated[Money, Meta(extra_json_schema={"maximum": 100})]


MAX_QUANTITY = 10**9
"""Largest quantity read (a whole number of units); larger is outside what storage holds."""
Quantity = Annotated[int, Meta(ge=0, le=MAX_QUANTITY)]
NonEmpty = Annotated[str, Meta(min_length=1)]
MAX_ID_LENGTH = 500
"""Longest product, purchase or cart id read: storage indexes them (PostgreSQL's index
entries hold at most 2,704 bytes)."""
Id = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        # NULs are removed from a text (normalized_value): an id must hold something else
        extra_json_schema={"pattern": "[^\\x00]"},
    ),
]

# Text fields the verdicts check beyond their type; the annotations only document it in the
# JSON Schema (and the OpenAPI document), decoding is unchanged.
DateText = Annotated[
    str,
    Meta(
        extra_json_schema={
            "format": "date-time",
            "description": "ISO 8601, read leniently: `T` or a space, `Z`, `+hh:mm` or `+hhmm`, "
            "optional fraction; an instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z "
            "once in UTC",
        }
    ),
]
CurrencyCode = Annotated[
    str, Meta(extra_json_schema={"enum": sorted(ISO_4217), "description": "ISO 4217 code"})
]
Email = Annotated[str, Meta(extra_json_schema={"format": "email"})]

Availability = Literal["instock", "outofstock", "unverified", "discontinued"]
SourceType = Literal["marketplace", "digital-store", "point-of-sale", "third-party", "other"]
SubscriptionStatus = Literal["subscribed", "unsubscribed", "none"]
EmailStatus = Literal["active", "bounced", "paused", "banned"]
PhoneStatus = Literal["active", "bounced", "paused"]

SOURCE_TYPES: tuple[str, ...] = SourceType.__args__  # type: ignore[attr-defined]
AVAILABILITIES: tuple[str, ...] = Availability.__args__  # type: ignore[attr-defined]


class Base(msgspec.Struct, omit_defaults=True, kw_only=True):
    pass


class ProductCreation(Base):
    """A product as the REST API writes it (its id is in the path)."""

    name: str
    productDetailUrl: str
    unitPrice: Money
    description: str | None = None
    imageUrl: str | None = None
    thumbnailUrl: str | None = None
    availability: Availability | None = None
    categories: list[str] | None = None
    tags: list[str] | None = None
    brand: str | None = None
    reviewCount: Quantity | None = None
    rating: Rating | None = None
    ratingCount: Quantity | None = None
    relatedExternalProductIds: list[str] | None = None
    priority: int | None = None
    unitPriceOriginal: Money | None = None
    unitPriceWithoutVAT: Money | None = None
    discountedAmount: Money | None = None
    discountedPercentage: Percentage | None = None
    publishedAt: DateText | None = None
    customField1: str | None = None
    customField2: str | None = None
    customField3: str | None = None
    inStockUnits: int | None = None
    isBlacklisted: bool | None = None


class Product(ProductCreation, kw_only=True):
    productId: Id


class BasketItem(Product, kw_only=True):
    quantity: Quantity
    price: Money


class Cart(Base):
    cartId: Id
    totalQuantity: Quantity
    totalPrice: Money
    products: list[BasketItem] = []
    cartRecoveryUrl: str | None = None
    currency: CurrencyCode | None = None


class Purchase(Base):
    purchaseId: Id
    totalQuantity: Quantity
    totalPrice: Money
    products: list[BasketItem]
    cartId: Annotated[str, Meta(max_length=MAX_ID_LENGTH)] | None = None
    purchaseDate: DateText | None = None
    paymentMethod: str | None = None
    source_type: SourceType | None = None
    source_name: str | None = None
    currency: CurrencyCode | None = None


class EntityFields(Base):
    """The known entityInfo fields; any other key is a custom contact field kept as given."""

    primaryKey: str | None = None
    trackerId: str | None = None
    name: str | None = field(default=None, name="_name")
    surname: str | None = field(default=None, name="_surname")
    birthdate: DateText | None = field(default=None, name="_birthdate")
    newsletterSubscriptionStatus: SubscriptionStatus | None = field(
        default=None, name="_newsletterSubscriptionStatus"
    )
    emailStatus: EmailStatus | None = field(default=None, name="_emailStatus")
    mobilePhone: str | None = field(default=None, name="_mobilePhone")
    mobilePhoneStatus: PhoneStatus | None = field(default=None, name="_mobilePhoneStatus")
    smsSubscriptionStatus: SubscriptionStatus | None = field(
        default=None, name="_smsSubscriptionStatus"
    )
    points: int | None = field(default=None, name="_points")


# --- events: a tagged union on "type" ------------------------------------------------


class Event(Base, tag_field="type"):
    pass


class PageVisit(Event, tag="page-visit", kw_only=True):
    pass


class ProductVisited(Event, tag="product-visited", kw_only=True):
    product: Product


class ProductSearched(Event, tag="product-searched", kw_only=True):
    product: Product


class ProductNotFound(Event, tag="product-not-found", kw_only=True):
    productId: NonEmpty


class Search(Event, tag="search", kw_only=True):
    searchText: Annotated[str, Meta(min_length=1, pattern=r"\S")]  # not only spaces


class Login(Event, tag="login", kw_only=True):
    email: str | None = None


class Register(Event, tag="register", kw_only=True):
    email: str | None = None


class NewsletterSubscribe(Event, tag="newsletter-subscribe", kw_only=True):
    email: str | None = None


class PurchaseEvent(Event, tag="purchase", kw_only=True):
    purchase: Purchase


class Custom(Event, tag="custom", kw_only=True):
    eventId: NonEmpty
    payload: dict[str, Any] = {}


class FormSubmitted(Event, tag="form-submitted", kw_only=True):
    formId: NonEmpty
    payload: dict[str, Any] = {}
    primaryKeyField: str | None = None
    contentId: str | None = None
    workflowDefinitionId: str | None = None
    sendUuid: str | None = None


WebContentType = Literal["popup", "full-screen", "slide-in", "floating-bar", "inline"]


class ModalOpened(Event, tag="modal-opened", kw_only=True):
    """One of Connectif's pop-ups was shown: the modal object as the server sent it, without
    its html (kept as given)."""

    modalOpened: dict[str, Any]


class ModalClosed(Event, tag="modal-closed", kw_only=True):
    modalClosed: dict[str, Any]


class WebContentOpened(Event, tag="web-content-opened", kw_only=True):
    contentId: NonEmpty
    webContentTypeId: WebContentType | None = None
    workflowDefinitionId: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        PageVisit,
        ProductVisited,
        ProductSearched,
        ProductNotFound,
        Search,
        Login,
        Register,
        NewsletterSubscribe,
        PurchaseEvent,
        Custom,
        FormSubmitted,
        ModalOpened,
        ModalClosed,
        WebContentOpened,
    )
}

AnyEvent = (
    PageVisit
    | ProductVisited
    | ProductSearched
    | ProductNotFound
    | Search
    | Login
    | Register
    | NewsletterSubscribe
    | PurchaseEvent
    | Custom
    | FormSubmitted
    | ModalOpened
    | ModalClosed
    | WebContentOpened
)


class Envelope(msgspec.Struct, kw_only=True):
    """The ingest request. Each part is kept raw here and decoded on its own, so one bad
    event costs only itself. Unknown top-level fields are ignored."""

    events: list[msgspec.Raw] = []
    entityInfo: msgspec.Raw = msgspec.Raw()
    cart: msgspec.Raw = msgspec.Raw()
    pageInfo: msgspec.Raw = msgspec.Raw()
    browserInfo: msgspec.Raw = msgspec.Raw()
    pushSubscription: msgspec.Raw = msgspec.Raw()
    bannerPlaceholders: msgspec.Raw = msgspec.Raw()
    requestId: Annotated[str, Meta(max_length=128, pattern=r"^[^\x00]*$")] | None = None
    consent: bool | None = None  # the visitor's choice (docs/privacy.md#consent)


# --- REST API bodies -----------------------------------------------------------------


class PurchaseCreation(Purchase, kw_only=True):
    contactEmail: Email | None = None
    contactExternalId: str | None = None


class EnvelopeSchema(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The ingest request as documented (the decoder reads each part on its own)."""

    events: list[AnyEvent] = []
    entityInfo: EntityFields | None = None
    cart: Cart | None = None
    pageInfo: dict[str, Any] | None = None
    browserInfo: dict[str, Any] | None = None
    pushSubscription: dict[str, Any] | None = None
    bannerPlaceholders: list[str] | None = None
    requestId: str | None = None
    consent: bool | None = None


MODELS: dict[str, type] = {
    "Envelope": EnvelopeSchema,
    "EntityInfo": EntityFields,
    "Cart": Cart,
    "Product": Product,
    "ProductBasketItem": BasketItem,
    "Purchase": Purchase,
    "PurchaseCreation": PurchaseCreation,
    "ProductCreation": ProductCreation,
    **{f"Event:{name}": cls for name, cls in EVENT_TYPES.items()},
}
