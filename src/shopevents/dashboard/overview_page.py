"""The dashboard's *Overview*: revenue, carts, products and events for a date range, each
chart in buckets that fit the range (`views.pick_interval`) unless the merchant chose one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.cluster import lag as cluster_lag
from shopevents.context import AppContext
from shopevents.dashboard import queries as dq
from shopevents.dashboard import views
from shopevents.dashboard.params import field_message, query
from shopevents.dashboard.site import store_view
from shopevents.reports import (
    cart_report,
    product_report,
    quality_report,
    revenue_report,
    shared,
)
from shopevents.reports.facts import KINDS
from shopevents.reports.service import maintainer, range_for
from shopevents.reports.timebuckets import SLOT_US, Range, hour_key, hour_label, local_today
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


async def overview(request: Request) -> Response:
    v, store = store_view(request)
    ctx = v.ctx
    today = local_today(store.timezone, ctx.clock.now())
    group_by = v.q.get("groupBy") or "source_type"
    if group_by not in revenue_report.GROUP_BY:
        group_by = "source_type"
    error = None
    try:
        rng, chosen = overview_range(ctx, store, v.q)
    except ValueError as exc:
        error = field_message(exc)
        rng, chosen = overview_range(ctx, store, {})
    maintainer(ctx).poke(store)
    hourly = rng.interval == "hour"
    # Revenue, carts and products are kept per local day: an hourly range reads them per
    # day and draws the revenue per hour from the purchases themselves.
    day_rng = Range(store.timezone, rng.first, rng.last, "day") if hourly else rng
    now = ctx.now_us()

    def load(c: Conn) -> dict[str, Any]:
        facts = shared.range_facts(c, store, rng, KINDS, hourly=hourly)
        rev = revenue_report.revenue(c, store, day_rng, group_by, facts=facts)
        out = {
            "revenue": rev,
            "carts": cart_report.carts(c, store, day_rng, facts=facts),
            "products": product_report.products(c, store, day_rng, facts=facts),
            "quality": quality_report.data_quality(c, store, rng, facts=facts, until_us=now),
            "has_data": dq.store_has_data(c, store.id),
        }
        if hourly:
            hours = [(k, hour_label(k, rng.tz)) for k in rng.hour_buckets() if k <= now]
            sales = dq.purchases_between(c, store.id, rng.start_us, rng.end_us, rev["currency"])
            out["hourly"] = views.hourly_revenue(
                [(hour_key(at // SLOT_US, rng.tz), amount) for at, amount in sales],
                hours,
                rev["currency"],
            )
        return out

    data = await v.read(load)
    rev = data["revenue"]
    lag = await cluster_lag.current(ctx)
    return v.render(
        "overview.html",
        active="overview",
        rng=rng,
        chosen=chosen,
        intervals=views.intervals_for(rng.days),
        error=error,
        group_by=group_by,
        presets=views.presets(today),
        rev=rev,
        revenue=views.revenue_chart(data.get("hourly") or rev),
        splits=views.split_tables(rev),
        carts=data["carts"],
        carts_view=views.carts_chart(data["carts"], day_rng.interval),
        products=data["products"],
        products_view=views.products_chart(data["products"]),
        quality=data["quality"],
        quality_view=views.quality_chart(data["quality"]),
        has_data=data["has_data"],
        lag=lag,
        query=lambda **kw: query(v.q, **kw),
    )


def overview_range(ctx: AppContext, store: StoreRecord, params: Any) -> tuple[Range, bool]:
    """The overview's range, and whether its bucket was chosen by the user: without an
    `interval` the bucket follows the range's length (`views.pick_interval`)."""
    chosen = (params.get("interval") or "auto") != "auto"
    if chosen:
        return range_for(ctx, store, params, allow_hour=True), True
    probe = range_for(ctx, store, {**dict(params), "interval": "day"})
    auto = views.pick_interval(probe.days)
    return Range(store.timezone, probe.first, probe.last, auto), False
