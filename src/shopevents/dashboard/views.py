"""Turning report data into what the pages show: charts (SVG) and their tables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from shopevents.dashboard import charts
from shopevents.dashboard.format import money, number, percent
from shopevents.reports.queries import OUTCOMES


def bucket_label(start: str, interval: str) -> str:
    if interval == "month":
        return date.fromisoformat(start).strftime("%b %Y")
    if interval == "week":
        return "w/c " + date.fromisoformat(start).strftime("%d %b")
    if interval == "day":
        return date.fromisoformat(start).strftime("%d %b")
    return start[5:16]


def revenue_chart(rep: dict[str, Any]) -> dict[str, Any]:
    cur = rep["currency"]
    labels = [bucket_label(b["start"], rep["interval"]) for b in rep["buckets"]]
    groups = rep["groups"] or ["revenue"]
    if rep["groupBy"]:
        series = [
            (g, [b["groups"].get(g, {}).get("revenue", Decimal(0)) for b in rep["buckets"]])
            for g in groups
        ]
    else:
        series = [("revenue", [b["revenue"] for b in rep["buckets"]])]
    pal = charts.colors([s[0] for s in series])
    svg = charts.stacked_bars(
        labels,
        series,
        fmt=lambda v: money(v, cur),
        label=f"Revenue per {rep['interval']}",
        palette=pal,
    )
    orders = charts.lines(
        labels,
        [("orders", [b["orders"] for b in rep["buckets"]])],
        label=f"Orders per {rep['interval']}",
        height=170,
        palette={"orders": "#3b6fd8"},
    )
    head = ["Period", "Orders", "Revenue"] + (
        [f"{g}" for g in rep["groups"]] if rep["groupBy"] else []
    )
    rows = []
    for b in rep["buckets"]:
        row = [b["start"], number(b["orders"]), money(b["revenue"], cur)]
        if rep["groupBy"]:
            row += [
                money(b["groups"][g]["revenue"], cur) if g in b["groups"] else "–"
                for g in rep["groups"]
            ]
        rows.append(row)
    return {
        "svg": svg,
        "orders_svg": orders,
        "legend": charts.legend([s[0] for s in series], pal) if rep["groupBy"] else Markup(""),
        "head": head,
        "rows": rows,
    }


def split_tables(rep: dict[str, Any]) -> list[dict[str, Any]]:
    cur = rep["currency"]
    names = {
        "source_type": "Source type",
        "source_name": "Source name",
        "payment_method": "Payment method",
    }
    out = []
    total = rep["totals"]["revenue"] or Decimal(0)
    for key, title in names.items():
        rows = rep["splits"][key]
        out.append(
            {
                "key": key,
                "title": title,
                "rows": [
                    {
                        "key": r["key"],
                        "orders": number(r["orders"]),
                        "revenue": money(r["revenue"], cur),
                        "share": percent(r["revenue"] / total) if total else "–",
                    }
                    for r in rows
                ],
            }
        )
    return out


def carts_chart(rep: dict[str, Any], interval: str) -> dict[str, Any]:
    labels = [bucket_label(b["start"], interval) for b in rep["buckets"]]
    names = ("created", "abandoned", "purchased", "recovered")
    series = [(n, [b[n] for b in rep["buckets"]]) for n in names]
    pal = charts.colors(list(names))
    t = rep["totals"]
    funnel = charts.hbars(
        [(n.capitalize(), t[n], number(t[n])) for n in names],
        label="Carts in the range",
        palette={n.capitalize(): pal[n] for n in names},
        label_width=110,
        width=480,
    )
    return {
        "svg": charts.lines(labels, series, label=f"Carts per {interval}", palette=pal),
        "legend": charts.legend(list(names), pal),
        "funnel": funnel,
        "head": ["Period", "Created", "Abandoned", "Purchased", "Recovered"],
        "rows": [[b["start"], *(number(b[n]) for n in names)] for b in rep["buckets"]],
    }


def products_chart(rep: dict[str, Any]) -> dict[str, Any]:
    cur = rep["currency"]
    by_rev = rep["byRevenue"]
    return {
        "svg": charts.hbars(
            [(p["name"] or p["productId"], p["revenue"], money(p["revenue"], cur)) for p in by_rev],
            label="Top products by revenue",
        )
        if by_rev
        else Markup(""),
        "units_svg": charts.hbars(
            [
                (p["name"] or p["productId"], p["units"], f"{number(p['units'])} units")
                for p in rep["byUnits"]
            ],
            label="Top products by units",
            color="#20a38a",
        )
        if rep["byUnits"]
        else Markup(""),
    }


def quality_chart(rep: dict[str, Any]) -> dict[str, Any]:
    interval = rep["interval"]
    labels = [
        b["start"][5:13] + "h" if interval == "hour" else bucket_label(b["start"], interval)
        for b in rep["buckets"]
    ]
    series = [(o, [b[o] for b in rep["buckets"]]) for o in OUTCOMES]
    pal = charts.colors(list(OUTCOMES))
    rows = [
        [b["start"], *(number(b[o]) for o in OUTCOMES)]
        for b in rep["buckets"]
        if interval != "hour" or any(b[o] for o in OUTCOMES)
    ]
    return {
        "svg": charts.stacked_bars(
            labels,
            series,
            label=f"Events received per {interval} by outcome",
            palette=pal,
            fmt=lambda v: number(v),
        ),
        "legend": charts.legend(list(OUTCOMES), pal),
        "head": ["Period", *(o.capitalize() for o in OUTCOMES)],
        "rows": rows,
        "hidden_empty": interval == "hour",
    }


def presets(today: date) -> list[tuple[str, str, str]]:
    """(label, from, to) of the quick ranges."""
    month_start = today.replace(day=1)
    return [
        ("Today", today.isoformat(), today.isoformat()),
        ("7 days", (today - timedelta(days=6)).isoformat(), today.isoformat()),
        ("30 days", (today - timedelta(days=29)).isoformat(), today.isoformat()),
        ("90 days", (today - timedelta(days=89)).isoformat(), today.isoformat()),
        ("12 months", (today - timedelta(days=364)).isoformat(), today.isoformat()),
        ("This month", month_start.isoformat(), today.isoformat()),
    ]


ACTIVITY_LABELS = {
    "web-page-visited": "Visited a page",
    "product-visited": "Viewed a product",
    "product-searched": "Found a product in a search",
    "search": "Searched",
    "login": "Logged in",
    "register": "Registered",
    "newsletter-subscribe": "Subscribed to the newsletter",
    "cart-product-added": "Added to cart",
    "cart-product-removed": "Removed from cart",
    "cart-abandoned": "Abandoned a cart",
    "cart-recovered": "Recovered a cart",
    "purchase": "Purchased",
    "purchase-refunded": "Refund on a purchase",
    "purchase-cancelled": "Cancelled a purchase",
    "custom-event": "Custom event",
    "web-form-submitted": "Submitted a form",
    "entity-created": "Contact created",
    "entity-identified": "Identified",
    "entity-merged": "Merged with another contact",
}
