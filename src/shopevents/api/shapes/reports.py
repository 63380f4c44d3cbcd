"""The reports as the REST API answers them. Amounts are in the report's `currency`."""

from __future__ import annotations

from msgspec import UNSET, UnsetType, field

from shopevents.api.shapes.base import Answer


class ReportStore(Answer):
    id: str
    name: str
    currency: str
    timezone: str


class Report(Answer):
    """The store and the days a report covers (store time zone)."""

    store: ReportStore
    from_: str = field(name="from")
    to: str


class Bucketed(Report):
    interval: str


class Figures(Answer):
    """Orders and their gross, refunded, cancelled and net revenue; the average order value
    is the net over the orders not cancelled."""

    orders: int
    revenue: float
    grossRevenue: float
    refunded: float
    cancelled: float
    cancelledOrders: int
    refunds: int
    netRevenue: float
    averageOrderValue: float


class RevenueTotals(Figures):
    recoveredOrders: int
    recoveredRevenue: float


class RevenueBucket(Figures):
    start: str
    groups: dict[str, Figures] | UnsetType = UNSET


class KeyedFigures(Figures):
    key: str


class CurrencyFigures(Figures):
    currency: str


class MissingRate(Answer):
    """A day and currency with no rate to the report's currency: its sales are left out."""

    date: str
    currency: str


class RevenueReport(Bucketed):
    currency: str
    groupBy: str | None
    totals: RevenueTotals
    groups: list[str]
    buckets: list[RevenueBucket]
    byGroup: list[KeyedFigures]
    splits: dict[str, list[KeyedFigures]]
    otherCurrencies: list[CurrencyFigures]
    missingRates: list[MissingRate]
    byCurrency: list[CurrencyFigures]


class CartTotals(Answer):
    created: int
    abandoned: int
    purchased: int
    recovered: int
    abandonedThenRecovered: int
    recoveryRate: float | None
    recoveredRevenue: float


class CartBucket(Answer):
    start: str
    created: int
    abandoned: int
    purchased: int
    recovered: int


class CartsReport(Bucketed):
    currency: str
    totals: CartTotals
    buckets: list[CartBucket]


class ProductFigures(Answer):
    productId: str
    name: str
    units: int
    revenue: float
    orders: int
    returnedUnits: int
    returned: float
    netUnits: int
    netRevenue: float


class ProductsReport(Bucketed):
    currency: str
    products: int
    byRevenue: list[ProductFigures]
    byUnits: list[ProductFigures]


class QualityTotals(Answer):
    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    received: int
    cartRejections: int


class CodeCount(Answer):
    code: str
    count: int


class QualityBucket(Answer):
    """Events by outcome, and warnings and rejections by code."""

    start: str
    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    warnings: dict[str, int]
    rejections: dict[str, int]


class DataQualityReport(Bucketed):
    totals: QualityTotals
    warningCodes: list[CodeCount]
    rejectionCodes: list[CodeCount]
    buckets: list[QualityBucket]


class SourceTotals(Figures):
    carts: int
    visits: int


class SourceFigures(Figures):
    source: str
    carts: int


class DeviceFigures(Figures):
    device: str
    carts: int


class CampaignFigures(Figures):
    source: str
    name: str | None
    medium: str | None
    campaign: str | None


class SourceVisits(Answer):
    source: str
    visits: int


class DeviceVisits(Answer):
    device: str
    visits: int


class SourcesReport(Report):
    currency: str
    totals: SourceTotals
    firstTouch: list[SourceFigures]
    lastTouch: list[SourceFigures]
    devices: list[DeviceFigures]
    campaigns: list[CampaignFigures]
    visits: list[SourceVisits]
    visitsByDevice: list[DeviceVisits]
    otherCurrencies: list[CurrencyFigures]
    missingRates: list[MissingRate]
