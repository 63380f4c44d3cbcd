"""Reports shared by the dashboard, the REST API and the CLI: revenue, carts, products and
data quality, in the store's time zone, with exact money. See docs/reports.md."""

from __future__ import annotations

from shopevents.reports.queries import (
    GROUP_BY,
    OUTCOMES,
    carts,
    data_quality,
    overview,
    overview_for,
    products,
    revenue,
)
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
