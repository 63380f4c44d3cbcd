"""Turning report data into what the pages show: charts (SVG) and their tables."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from shopevents.dashboard import charts
from shopevents.dashboard.format import money, number, percent
from shopevents.reports.quality_report import OUTCOMES

MAX_BUCKETS = 62
"""A chart never draws more bars than this: the bucket follows the range's length."""


def pick_interval(days: int) -> str:
    """The bucket that fits a range of `days` local days: hours for a day or two, days up
    to two months, weeks up to about 14 months, months beyond (never more than
    MAX_BUCKETS bars, and at least two for a range of several days)."""
    if days <= 2:
        return "hour"
    if days <= MAX_BUCKETS:
        return "day"
    if days <= MAX_BUCKETS * 7:
        return "week"
    return "month"


def bucket_label(start: str, interval: str) -> str:
    if interval == "month":
        return date.fromisoformat(start).strftime("%b %Y")
    if interval == "week":
        return "w/c " + date.fromisoformat(start).strftime("%d %b")
    if interval == "day":
        return date.fromisoformat(start).strftime("%d %b")
    return start[11:16] if len(start) >= 16 else start  # an hour: "2026-04-15 13:00 +02:00"


def axis_labels(starts: list[str], interval: str) -> list[str]:
    """Short x-axis labels; hours as "13h", with the day ("15 13h") when several days show."""
    if interval != "hour":
        return [bucket_label(s, interval) for s in starts]
    several = len({s[:10] for s in starts}) > 1
    return [(s[8:10] + " " if several else "") + s[11:13] + "h" for s in starts]


def revenue_chart(rep: dict[str, Any]) -> dict[str, Any]:
    cur = rep["currency"]
    labels = axis_labels([b["start"] for b in rep["buckets"]], rep["interval"])
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
        palette={"orders": charts.FIXED["orders"]},
        integer=True,
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


def hourly_revenue(
    rows: list[tuple[int, Any]], hours: list[tuple[int, str]], currency: str
) -> dict[str, Any]:
    """A revenue report (the shape `revenue_chart` reads) per local hour, from the
    purchases' (hour key, amount) and the range's hours (key, label): gross figures."""
    per: dict[int, list[Any]] = {k: [0, Decimal(0)] for k, _ in hours}
    for key, amount in rows:
        if key in per:
            per[key][0] += 1
            per[key][1] += amount
    return {
        "currency": currency,
        "interval": "hour",
        "groupBy": None,
        "groups": [],
        "buckets": [{"start": lab, "orders": per[k][0], "revenue": per[k][1]} for k, lab in hours],
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
    titles = {
        "created": "Created",
        "abandoned": "Abandoned in range",
        "purchased": "Purchased",
        "recovered": "Recovered",
    }
    funnel = charts.hbars(
        [(titles[n], t[n], number(t[n])) for n in names],
        label="Carts in the range",
        palette={titles[n]: pal[n] for n in names},
        label_width=150,
        width=520,
    )
    return {
        "svg": charts.lines(
            labels, series, label=f"Carts per {interval}", palette=pal, integer=True
        ),
        "legend": charts.legend(list(names), pal),
        "funnel": funnel,
        "head": ["Period", "Created", "Abandoned in range", "Purchased", "Recovered"],
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
    labels = axis_labels([b["start"] for b in rep["buckets"]], interval)
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
            integer=True,
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


def intervals_for(days: int) -> list[str]:
    """The buckets the picker offers for a range of `days` days (hours up to 62 days)."""
    return ["hour", "day", "week", "month"] if days <= 62 else ["day", "week", "month"]
