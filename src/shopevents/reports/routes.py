"""REST report routes (apiKey auth): GET /api/reports/revenue|carts|products|data-quality|sources.

Query parameters: `from`, `to` (local dates YYYY-MM-DD in the store's time zone, both
included; default the last 30 days), `interval` (day, week, month; data-quality also hour),
`groupBy` (revenue: source_type, source_name, payment_method), `currency` (revenue and
products; default the store's), `limit` (products, 1-500, default 10).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.api.auth import key_store
from shopevents.context import AppContext
from shopevents.errors import FieldError, validation_error
from shopevents.reports import queries, rates
from shopevents.reports.service import range_for, run_report
from shopevents.reports.sources import sources as sources_report
from shopevents.responses import json_response
from shopevents.storage.stores import StoreRecord

MAX_LIMIT = 500
"""The most products a products report lists (REST and CLI)."""


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "10")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise FieldError(
            "/limit", f"Expected a whole number from 1 to {MAX_LIMIT}; received {raw!r}"
        )
    return int(raw)


def _currency(request: Request) -> str | None:
    raw = request.query_params.get("currency")
    if raw is None or raw == "":
        return None
    from shopevents.schema.currencies import ISO_4217

    if raw.upper() not in ISO_4217:
        raise FieldError("/currency", f"Expected an ISO 4217 code; received {raw!r}")
    return raw.upper()


def routes(ctx: AppContext) -> list[Route]:
    async def store_of(request: Request) -> StoreRecord:
        return await key_store(ctx, request)

    async def report(request: Request, name: str) -> Any:
        store = await store_of(request)
        q = request.query_params
        try:
            rng = range_for(ctx, store, q, allow_hour=name == "data-quality")
            if name == "revenue":
                group_by = q.get("groupBy") or None
                if group_by is not None and group_by not in queries.GROUP_BY:
                    raise FieldError(
                        "/groupBy",
                        f"Expected one of {', '.join(queries.GROUP_BY)}; received {group_by!r}",
                    )
                return await run_report(
                    ctx, store, queries.revenue, rng, group_by, _currency(request)
                )
            if name == "sources":
                return await run_report(ctx, store, sources_report, rng, _currency(request))
            if name == "carts":
                return await run_report(ctx, store, queries.carts, rng)
            if name == "products":
                return await run_report(
                    ctx, store, queries.products, rng, _limit(request), _currency(request)
                )
            return await run_report(ctx, store, queries.data_quality, rng)
        except FieldError as exc:
            raise validation_error([exc]) from None

    def endpoint(name: str) -> Any:
        async def handler(request: Request) -> Response:
            return json_response(await report(request, name))

        return handler

    async def post_rates(request: Request) -> Response:
        """Load rates: an ECB CSV or XML file as the body, or JSON
        `{"rates": [{"date", "currency", "rate"}]}`."""
        from datetime import date as _date

        from shopevents.api import bodies
        from shopevents.schema.currencies import ISO_4217

        await store_of(request)
        body = await bodies.read_bytes(request, ctx.settings.ingest.api_max_body_bytes * 64)
        try:
            if body.lstrip()[:1] == b"{":
                obj = bodies.decode_json(body)
                items = obj.get("rates") if isinstance(obj, dict) else None
                if not isinstance(items, list):
                    raise rates.RatesError('Expected {"rates": [{date, currency, rate}]}')
                parsed = []
                for i, it in enumerate(items):
                    try:
                        cur = str(it["currency"]).upper()
                        value = Decimal(str(it["rate"]))
                        day = _date.fromisoformat(str(it["date"]))
                    except Exception:
                        raise rates.RatesError(
                            f"/rates/{i}: Expected {{date: YYYY-MM-DD, currency, rate}}"
                        ) from None
                    if cur not in ISO_4217 or not value.is_finite() or value <= 0:
                        raise rates.RatesError(
                            f"/rates/{i}: Expected an ISO 4217 code and a rate above zero"
                        )
                    parsed.append((day, cur, value))
            else:
                parsed = rates.parse(body)
        except rates.RatesError as exc:
            raise validation_error([FieldError("/", str(exc))]) from None
        n = await ctx.write(lambda conn, now: rates.load(conn, parsed, now))
        days = sorted({d for d, _, _ in parsed})
        return json_response(
            {
                "loaded": n,
                "from": days[0].isoformat() if days else None,
                "to": days[-1].isoformat() if days else None,
            }
        )

    async def get_rates(request: Request) -> Response:
        from datetime import date as _date
        from datetime import timedelta

        await store_of(request)
        raw = request.query_params.get("date")
        try:
            last = _date.fromisoformat(raw) if raw else ctx.clock.now().date()
        except ValueError:
            raise validation_error(
                [FieldError("/date", f"Expected YYYY-MM-DD; received {raw!r}")]
            ) from None
        first = last if raw else last - timedelta(days=rates.MAX_AGE_DAYS)
        found = await ctx.read(lambda c: rates.listing(c, first, last))
        return json_response({"base": rates.BASE, "rates": found})

    return [
        Route(f"/api/reports/{name}", endpoint(name), methods=["GET"])
        for name in ("revenue", "carts", "products", "data-quality", "sources")
    ] + [
        Route("/api/rates", post_rates, methods=["POST"]),
        Route("/api/rates", get_rates, methods=["GET"]),
    ]
