"""`shopevents report`: the reports as CSV or JSON (the figures of the dashboard and the
REST API), and `report rebuild`."""

from __future__ import annotations

import csv
import io
from typing import Any

import click
import msgspec

from shopevents.cli.common import resolve_store, store_option
from shopevents.cli.env import Env, pass_env
from shopevents.errors import FieldError
from shopevents.jsoncodec import dumps
from shopevents.reports import cart_report, product_report, quality_report, revenue_report, rollups
from shopevents.reports.sources import sources
from shopevents.reports.timebuckets import local_today, make_range
from shopevents.schema.currencies import ISO_4217
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

# The most products `report products` lists (as GET /api/reports/products).
TOP_LIMIT = 500


def _range_options(fn: Any) -> Any:
    fn = click.option("--to", "to_", help="Last local day, YYYY-MM-DD (default today).")(fn)
    fn = click.option(
        "--from", "from_", help="First local day, YYYY-MM-DD (default 29 days before --to)."
    )(fn)
    return store_option()(fn)


def report_range(
    env: Env,
    store: StoreRecord,
    from_: str | None,
    to_: str | None,
    interval: str,
    hour: bool = False,
) -> Any:

    try:
        return make_range(
            store.timezone,
            local_today(store.timezone, env.clock.now()),
            from_,
            to_,
            interval,
            allow_hour=hour,
        )
    except FieldError as exc:
        raise click.BadParameter(exc.message, param_hint="--from/--to") from exc


def _run_report(env: Env, store: StoreRecord, fn: Any) -> Any:

    env.require_migrated()

    def go(conn: Conn) -> Any:
        rollups.catch_up(conn, store.id, store.timezone, env.now())
        return fn(conn)

    return env.read(go)


def _emit(fmt: str, data: dict[str, Any], head: list[str], rows: list[list[Any]]) -> None:
    if fmt == "json":
        click.echo(msgspec.json.format(dumps(data), indent=2))
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    click.echo(buf.getvalue(), nl=False)


def _check_currency(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An ISO 4217 code (as the REST API's `currency`), or nothing."""
    if value is None or value == "":
        return None

    if value.upper() not in ISO_4217:
        raise click.BadParameter(
            f"expected an ISO 4217 currency code (EUR, USD, ...); got {value!r}"
        )
    return value.upper()


currency_option = click.option(
    "--currency",
    callback=_check_currency,
    help="Only purchases in this currency, an ISO 4217 code (default the store's).",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
interval_option = click.option(
    "--interval", type=click.Choice(["day", "week", "month"]), default="day", show_default=True
)


@click.group("report")
def report_group() -> None:
    """Reports as CSV or JSON (the same figures as the dashboard and the REST API)."""


@report_group.command("revenue")
@_range_options
@interval_option
@click.option(
    "--group-by", type=click.Choice(["source_type", "source_name", "payment_method"]), default=None
)
@currency_option
@format_option
@pass_env
def report_revenue(
    env: Env,
    store_ref: str | None,
    from_: str | None,
    to_: str | None,
    interval: str,
    group_by: str | None,
    currency: str | None,
    fmt: str,
) -> None:
    """Revenue and orders per day, week or month, optionally split."""
    store = resolve_store(env, store_ref)
    rng = report_range(env, store, from_, to_, interval)
    data = _run_report(
        env, store, lambda c: revenue_report.revenue(c, store, rng, group_by, currency)
    )
    if group_by:
        head = ["period", group_by, "orders", "revenue", "currency"]
        rows = [
            [b["start"], g, v["orders"], v["revenue"], data["currency"]]
            for b in data["buckets"]
            for g, v in b["groups"].items()
        ]
    else:
        head = ["period", "orders", "revenue", "currency"]
        rows = [[b["start"], b["orders"], b["revenue"], data["currency"]] for b in data["buckets"]]
    _emit(fmt, data, head, rows)


@report_group.command("carts")
@_range_options
@interval_option
@format_option
@pass_env
def report_carts(
    env: Env, store_ref: str | None, from_: str | None, to_: str | None, interval: str, fmt: str
) -> None:
    """Carts created, abandoned, purchased, recovered per period (totals in JSON)."""
    store = resolve_store(env, store_ref)
    rng = report_range(env, store, from_, to_, interval)
    data = _run_report(env, store, lambda c: cart_report.carts(c, store, rng))
    head = ["period", "created", "abandoned", "purchased", "recovered"]
    rows = [
        [b["start"], b["created"], b["abandoned"], b["purchased"], b["recovered"]]
        for b in data["buckets"]
    ]
    _emit(fmt, data, head, rows)


@report_group.command("products")
@_range_options
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, TOP_LIMIT))
@click.option("--by", type=click.Choice(["revenue", "units"]), default="revenue", show_default=True)
@currency_option
@format_option
@pass_env
def report_products(
    env: Env,
    store_ref: str | None,
    from_: str | None,
    to_: str | None,
    limit: int,
    by: str,
    currency: str | None,
    fmt: str,
) -> None:
    """Top products by revenue (or units) in the range."""
    store = resolve_store(env, store_ref)
    rng = report_range(env, store, from_, to_, "day")
    data = _run_report(
        env, store, lambda c: product_report.products(c, store, rng, limit, currency)
    )
    items = data["byRevenue"] if by == "revenue" else data["byUnits"]
    head = ["rank", "product_id", "name", "units", "orders", "revenue", "currency"]
    rows = [
        [i, p["productId"], p["name"], p["units"], p["orders"], p["revenue"], data["currency"]]
        for i, p in enumerate(items, 1)
    ]
    _emit(fmt, data, head, rows)


@report_group.command("data-quality")
@_range_options
@click.option(
    "--interval",
    type=click.Choice(["hour", "day", "week", "month"]),
    default="day",
    show_default=True,
)
@format_option
@pass_env
def report_quality(
    env: Env, store_ref: str | None, from_: str | None, to_: str | None, interval: str, fmt: str
) -> None:
    """Events by outcome per period, with warning and rejection codes (in JSON)."""
    store = resolve_store(env, store_ref)
    rng = report_range(env, store, from_, to_, interval, hour=True)
    data = _run_report(env, store, lambda c: quality_report.data_quality(c, store, rng))
    head = ["period", *quality_report.OUTCOMES]
    rows = [[b["start"], *(b[o] for o in quality_report.OUTCOMES)] for b in data["buckets"]]
    _emit(fmt, data, head, rows)


@report_group.command("sources")
@_range_options
@click.option(
    "--currency",
    callback=_check_currency,
    help="Only purchases in this currency, unconverted (default: all, in the reporting currency).",
)
@format_option
@pass_env
def report_sources(
    env: Env,
    store_ref: str | None,
    from_: str | None,
    to_: str | None,
    currency: str | None,
    fmt: str,
) -> None:
    """Revenue, carts and visits by traffic source, first and last touch."""
    store = resolve_store(env, store_ref)
    rng = report_range(env, store, from_, to_, "day")
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


@report_group.command("rebuild")
@store_option()
@pass_env
def report_rebuild(env: Env, store_ref: str | None) -> None:
    """Drop a store's report rollups and build them again from the stored rows."""
    env.require_migrated()
    store = resolve_store(env, store_ref)
    env.write(lambda c, now: rollups.drop(c, store.id))
    steps = env.read(lambda c: rollups.catch_up(c, store.id, store.timezone, env.now()))
    click.echo(f"rebuilt the report rollups of {store.id} ({steps} steps)")
