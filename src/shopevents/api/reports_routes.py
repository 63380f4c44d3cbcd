"""REST report routes (apiKey auth): GET /api/reports/revenue|carts|products|data-quality|sources,
and the currency rates reports convert with: GET and POST /api/rates.

Query parameters: `from`, `to` (local dates YYYY-MM-DD in the store's time zone, both
included; default the last 30 days), `interval` (day, week, month; data-quality also hour),
`groupBy` (revenue: source_type, source_name, payment_method), `currency` (revenue and
products; default the store's), `limit` (products, 1-500, default 10).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies
from shopevents.api.auth import store_of
from shopevents.api.shapes.base import Answer, answer, conform
from shopevents.api.shapes.operations import RateList, RatesLoaded
from shopevents.api.shapes.reports import (
    CartsReport,
    DataQualityReport,
    ProductsReport,
    RevenueReport,
    SourcesReport,
)
from shopevents.api.shapes.requests import RatesUpload
from shopevents.errors import FieldError, validation_error
from shopevents.reports import rates
from shopevents.reports.cart_report import carts
from shopevents.reports.product_report import products
from shopevents.reports.quality_report import data_quality
from shopevents.reports.revenue_report import GROUP_BY, revenue
from shopevents.reports.service import range_for, run_report
from shopevents.reports.sources import sources
from shopevents.reports.timebuckets import Range
from shopevents.runtime import runtime
from shopevents.schema.currencies import ISO_4217
from shopevents.storage.stores import StoreRecord

MAX_LIMIT = 500
"""The most products a products report lists (REST and CLI)."""


def limit_param(request: Request) -> int:
    raw = request.query_params.get("limit", "10")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise FieldError(
            "/limit", f"Expected a whole number from 1 to {MAX_LIMIT}; received {raw!r}"
        )
    return int(raw)


def currency_param(request: Request) -> str | None:
    raw = request.query_params.get("currency")
    if raw is None or raw == "":
        return None
    if raw.upper() not in ISO_4217:
        raise FieldError("/currency", f"Expected an ISO 4217 code; received {raw!r}")
    return raw.upper()


def group_by_param(request: Request) -> str | None:
    group_by = request.query_params.get("groupBy") or None
    if group_by is not None and group_by not in GROUP_BY:
        raise FieldError(
            "/groupBy",
            f"Expected one of {', '.join(GROUP_BY)}; received {group_by!r}",
        )
    return group_by


async def report(
    request: Request, kind: type[Answer], fn: Any, *params: Any, allow_hour: bool = False
) -> Response:
    """`fn(conn, store, range, *params)` over the range the query asks for; `params`: the
    report's own parameter readers, each given the request; `kind`: the report's shape."""
    ctx = runtime(request)
    store: StoreRecord = await store_of(request)
    try:
        rng: Range = range_for(ctx, store, request.query_params, allow_hour=allow_hour)
        args = [read(request) for read in params]
        found = await run_report(ctx, store, fn, rng, *args)
    except FieldError as exc:
        raise validation_error([exc]) from None
    return answer(kind, found)


async def revenue_report(request: Request) -> Response:
    return await report(request, RevenueReport, revenue, group_by_param, currency_param)


async def sources_report(request: Request) -> Response:
    return await report(request, SourcesReport, sources, currency_param)


async def carts_report(request: Request) -> Response:
    return await report(request, CartsReport, carts)


async def products_report(request: Request) -> Response:
    return await report(request, ProductsReport, products, limit_param, currency_param)


async def data_quality_report(request: Request) -> Response:
    return await report(request, DataQualityReport, data_quality, allow_hour=True)


def json_rates(body: bytes) -> list[rates.Rate]:
    """`{"rates": [{"date", "currency", "rate"}]}`; RatesError names the first bad entry."""
    obj = bodies.decode_json(body)
    items = obj.get("rates") if isinstance(obj, dict) else None
    if not isinstance(items, list):
        raise rates.RatesError('Expected {"rates": [{date, currency, rate}]}')
    parsed = []
    for i, it in enumerate(items):
        try:
            cur = str(it["currency"]).upper()
            value = Decimal(str(it["rate"]))
            day = date.fromisoformat(str(it["date"]))
        except Exception:
            raise rates.RatesError(
                f"/rates/{i}: Expected {{date: YYYY-MM-DD, currency, rate}}"
            ) from None
        if cur not in ISO_4217 or not value.is_finite() or value <= 0:
            raise rates.RatesError(f"/rates/{i}: Expected an ISO 4217 code and a rate above zero")
        parsed.append((day, cur, value))
    conform({"rates": [{"date": d, "currency": c, "rate": v} for d, c, v in parsed]}, RatesUpload)
    return parsed


async def post_rates(request: Request) -> Response:
    """Load rates: an ECB CSV or XML file as the body, or JSON
    `{"rates": [{"date", "currency", "rate"}]}`."""
    ctx = runtime(request)
    await store_of(request)
    body = await bodies.read_bytes(request, ctx.settings.ingest.api_max_body_bytes * 64)
    try:
        parsed = json_rates(body) if body.lstrip()[:1] == b"{" else rates.parse(body)
    except rates.RatesError as exc:
        raise validation_error([FieldError("/", str(exc))]) from None
    n = await ctx.write(lambda conn, now: rates.load(conn, parsed, now))
    days = sorted({d for d, _, _ in parsed})
    return answer(
        RatesLoaded,
        {
            "loaded": n,
            "from": days[0].isoformat() if days else None,
            "to": days[-1].isoformat() if days else None,
        },
    )


async def get_rates(request: Request) -> Response:
    ctx = runtime(request)
    await store_of(request)
    raw = request.query_params.get("date")
    try:
        last = date.fromisoformat(raw) if raw else ctx.clock.now().date()
    except ValueError:
        raise validation_error(
            [FieldError("/date", f"Expected YYYY-MM-DD; received {raw!r}")]
        ) from None
    first = last if raw else last - timedelta(days=rates.MAX_AGE_DAYS)
    found = await ctx.read(lambda c: rates.listing(c, first, last))
    return answer(RateList, {"base": rates.BASE, "rates": found})
