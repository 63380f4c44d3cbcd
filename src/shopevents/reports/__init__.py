"""Reports shared by the dashboard, the REST API and the CLI: revenue, carts, products and
data quality, in the store's time zone, with exact money. See docs/reports.md."""

from __future__ import annotations

from shopevents.reports.cart_report import carts
from shopevents.reports.overview_report import overview, overview_for
from shopevents.reports.product_report import products
from shopevents.reports.quality_report import OUTCOMES, data_quality
from shopevents.reports.revenue_report import GROUP_BY, revenue
from shopevents.reports.timebuckets import INTERVALS, Range, make_range

__all__ = [
    "GROUP_BY",
    "INTERVALS",
    "OUTCOMES",
    "Range",
    "carts",
    "data_quality",
    "make_range",
    "overview",
    "overview_for",
    "products",
    "revenue",
]
