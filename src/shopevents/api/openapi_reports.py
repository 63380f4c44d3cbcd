"""The OpenAPI operations of the reports and the currency rates (`reports_routes`)."""

from __future__ import annotations

from typing import Any

from shopevents.api.openapi_common import BODY_ERRORS, Op, query
from shopevents.api.shapes.base import Answer
from shopevents.api.shapes.operations import RateList, RatesLoaded
from shopevents.api.shapes.reports import (
    CartsReport,
    DataQualityReport,
    ProductsReport,
    RevenueReport,
    SourcesReport,
)
from shopevents.api.shapes.requests import RatesUpload

DAY = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
RANGE = (
    query(
        "from",
        DAY,
        "First day (YYYY-MM-DD, store time zone); default 29 days before `to` (30 days with "
        "`to`); at most 3,700 days before `to`, else 422. Days are from 1900-01-01 to "
        "9998-12-31, else 422",
    ),
    query(
        "to",
        DAY,
        "Last day (YYYY-MM-DD, store time zone), not before `from` (else 422); default today; "
        "from 1900-01-01 to 9998-12-31, else 422",
    ),
    query("interval", {"enum": ["day", "week", "month"]}),
)
CURRENCY = query("currency", {"type": "string", "pattern": "^[A-Z]{3}$"})


def _report(summary: str, operation_id: str, kind: type[Answer], *extra: dict[str, Any]) -> Op:
    return Op(summary, operation_id, {200: ("The report", kind)}, query=RANGE + extra)


OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/reports/revenue"): _report(
        "Revenue and orders by interval, optionally split",
        "reportRevenue",
        RevenueReport,
        query("groupBy", {"enum": ["source_type", "source_name", "payment_method"]}),
        CURRENCY,
    ),
    ("GET", "/api/reports/carts"): _report(
        "Carts created, abandoned, purchased and recovered; recovery rate and revenue",
        "reportCarts",
        CartsReport,
    ),
    ("GET", "/api/reports/products"): _report(
        "Top products by revenue and units",
        "reportProducts",
        ProductsReport,
        query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
        CURRENCY,
    ),
    ("GET", "/api/reports/data-quality"): _report(
        "Events by outcome and warnings by code, per day", "reportDataQuality", DataQualityReport
    ),
    ("GET", "/api/reports/sources"): _report(
        "Visits, carts and revenue by traffic source and device: first and last touch",
        "reportSources",
        SourcesReport,
        CURRENCY,
    ),
    ("POST", "/api/rates"): Op(
        "Load exchange rates: an ECB CSV or XML file as the body, or JSON",
        "loadRates",
        {200: ("Loaded", RatesLoaded)},
        BODY_ERRORS,
        request=RatesUpload,
    ),
    ("GET", "/api/rates"): Op(
        "The server's exchange rates of a day (units per euro)",
        "getRates",
        {200: ("The rates", RateList)},
        query=(query("date", {"type": "string", "format": "date"}),),
    ),
}
