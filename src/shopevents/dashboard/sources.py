"""The sources split: the dashboard page `/stores/{id}/sources` and `shopevents report
sources` (the figures of `reports.sources`, the REST API's `GET /api/reports/sources`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import click

from shopevents.dashboard.cli import (
    _emit,
    _range_options,
    _report_range,
    _run_report,
    find_store,
    format_option,
)
from shopevents.errors import FieldError


def _currency(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if not value:
        return None
    from shopevents.schema.currencies import ISO_4217

    if value.upper() not in ISO_4217:
        raise click.BadParameter(
            f"expected an ISO 4217 currency code (EUR, USD, ...); got {value!r}"
        )
    return value.upper()


@click.command("sources")
@_range_options
@click.option(
    "--currency",
    callback=_currency,
    help="Only purchases in this currency, unconverted (default: all, in the reporting currency).",
)
@format_option
@click.pass_obj
def report_sources(
    env: Any,
    store_ref: str | None,
    from_: str | None,
    to_: str | None,
    currency: str | None,
    fmt: str,
) -> None:
    """Revenue, carts and visits by traffic source, first and last touch."""
    from shopevents.reports.sources import sources

    store = find_store(env, store_ref)
    rng = _report_range(env, store, from_, to_, "day")
    data = _run_report(env, store, lambda c: sources(c, store, rng, currency))
    head = ["touch", "source", "orders", "revenue", "net_revenue", "carts", "currency"]
    rows = [
        [
            touch,
            r["source"],
            r["orders"],
            r["grossRevenue"],
            r["netRevenue"],
            r["carts"],
            data["currency"],
        ]
        for touch, key in (("first", "firstTouch"), ("last", "lastTouch"))
        for r in data[key]
    ]
    _emit(fmt, data, head, rows)


def page(
    ctx: Any, render: Callable[..., Any], read: Callable[[Any], Awaitable[Any]]
) -> Callable[[Any], Awaitable[Any]]:
    """The dashboard page's handler (wrapped by the dashboard's `page`: login, store)."""
    from shopevents.reports.service import maintainer, range_for
    from shopevents.reports.sources import sources

    async def handler(v: Any) -> Any:
        store = v.store
        error = None
        try:
            rng = range_for(ctx, store, v.q)
        except FieldError as exc:
            error = f"{exc.field}: {exc.message}"
            rng = range_for(ctx, store, {})
        maintainer(ctx).poke(store)
        data = await read(lambda c: sources(c, store, rng))
        return render(v, "sources.html", active="sources", rng=rng, error=error, s=data)

    return handler
