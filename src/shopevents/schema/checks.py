"""The business checks after decoding: authorised domains, product ratings and percentages,
amounts rounded to millionths, line prices and quantities against the totals, the currency,
the purchase date; each problem a warning (the value is corrected or dropped)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from shopevents.errors import issue
from shopevents.schema import models as m
from shopevents.schema.currencies import ISO_4217
from shopevents.schema.dates import ParsedDate, parse_iso8601
from shopevents.schema.emails import identifying_email
from shopevents.schema.reasons import json_pointer, shown
from shopevents.schema.records import CheckContext

CENT = Decimal("0.01")


def _scheme_host_lower(url: str) -> tuple[str, bool]:
    """The URL with its scheme and host lowercased, and whether it has more than an
    origin (a path, query or fragment)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, False
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return f"{scheme.lower()}://{rest[:cut].lower()}{rest[cut:]}", cut < len(rest)


def _prefix_allows(url: str, prefix: str) -> bool:
    """Connectif's rule for a URL-prefix domain: the address starts with it. An origin
    (no path: the `Origin` header) is allowed when some page of it would be."""
    address, has_path = _scheme_host_lower(url)
    p, _ = _scheme_host_lower(prefix)
    if has_path:
        return address.startswith(p)
    return address.startswith(p) or p == address or p.startswith(address + "/")


def domain_allowed(url: str, domains: list[str]) -> bool:
    """True if the URL is under one of the store's authorised domains (no domains: any).
    A host-name entry (`shop.example`) allows that host and its subdomains, whatever the
    scheme, port and path; a URL-prefix entry (`https://shop.example/es/`, Connectif's form)
    allows the addresses that start with it."""
    if not domains:
        return True
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    for d in domains:
        if "//" in d:
            if _prefix_allows(url, d):
                return True
            continue
        dhost = d.split("/")[0].lower().lstrip("*").lstrip(".")
        dhost = dhost if dhost.startswith("[") else dhost.split(":")[0]
        if host == dhost.strip("[]") or host.endswith("." + dhost):
            return True
    return False


def check_product(p: m.Product, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> None:
    if not domain_allowed(p.productDetailUrl, ctx.domains):
        w.append(
            issue(
                "url_not_authorized",
                f"{ptr}/productDetailUrl",
                f"{shown(p.productDetailUrl)} is outside the store's authorised domains",
            )
        )
    if p.rating is not None and p.rating > 5:
        w.append(
            issue(
                "invalid_field",
                f"{ptr}/rating",
                f"Expected a rating from 0 to 5; received {p.rating}; the field was dropped",
            )
        )
        p.rating = None
    if p.discountedPercentage is not None and p.discountedPercentage > 100:
        w.append(
            issue(
                "invalid_field",
                f"{ptr}/discountedPercentage",
                f"Expected a percentage from 0 to 100; received {p.discountedPercentage}; the field was dropped",
            )
        )
        p.discountedPercentage = None
    if p.publishedAt is not None and parse_iso8601(p.publishedAt) is None:
        w.append(
            issue(
                "invalid_date",
                f"{ptr}/publishedAt",
                f"Expected an ISO 8601 date; received {shown(p.publishedAt)}; the field was dropped",
            )
        )
        p.publishedAt = None
    for name in ("unitPrice", "unitPriceOriginal", "unitPriceWithoutVAT", "discountedAmount"):
        round_money_field(p, name, ptr, w)


_MILLIONTH = Decimal("0.000001")


def round_money_field(obj: Any, name: str, ptr: str, w: list[dict[str, str]]) -> None:
    v = getattr(obj, name)
    if v is not None and v.quantize(_MILLIONTH) != v:
        r = m.Money(v.quantize(_MILLIONTH))
        setattr(obj, name, r)
        w.append(issue("rounded_amount", f"{ptr}/{name}", f"{shown(v)} was rounded to {r}"))


def check_lines(
    lines: list[m.BasketItem], total_q: int, ptr: str, ctx: CheckContext, w: list[dict[str, str]]
) -> None:
    total = 0
    for i, line in enumerate(lines):
        lp = f"{ptr}/products/{i}"
        check_product(line, lp, ctx, w)
        round_money_field(line, "price", lp, w)
        total += line.quantity
        expected = line.unitPrice * line.quantity
        if abs(expected - line.price) > CENT:
            w.append(
                issue(
                    "price_mismatch",
                    f"{lp}/price",
                    f"price {line.price} differs from quantity × unitPrice = {expected}",
                )
            )
    if lines and total != total_q:
        w.append(
            issue(
                "quantity_mismatch",
                f"{ptr}/totalQuantity",
                f"totalQuantity {total_q} differs from the sum of the lines' quantities, {total}",
            )
        )


def check_currency(holder: Any, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> None:
    cur = holder.currency
    if cur is None:
        return
    up = cur.strip().upper()
    if up not in ISO_4217:
        w.append(
            issue(
                "invalid_currency",
                f"{ptr}/currency",
                f"Expected an ISO 4217 code; received {shown(cur)}; the store's currency {ctx.currency} is used",
            )
        )
        holder.currency = None
    elif up != cur:
        w.append(issue("normalized_value", f"{ptr}/currency", f'{shown(cur)} was read as "{up}"'))
        holder.currency = up


def check_purchase(
    p: m.Purchase, ptr: str, ctx: CheckContext, w: list[dict[str, str]]
) -> ParsedDate | None:
    parsed = None
    if p.purchaseDate is not None:
        parsed = parse_iso8601(p.purchaseDate)
        if parsed is None:
            w.append(
                issue(
                    "invalid_date",
                    f"{ptr}/purchaseDate",
                    f"Expected an ISO 8601 date; received {shown(p.purchaseDate)}; the received time is used",
                )
            )
            p.purchaseDate = None
        elif parsed.utc > ctx.now + timedelta(days=1):
            w.append(
                issue(
                    "future_date",
                    f"{ptr}/purchaseDate",
                    f"{p.purchaseDate} is more than a day in the future",
                )
            )
    if not p.products:
        w.append(issue("empty_products", f"{ptr}/products", "The purchase has no product lines"))
    round_money_field(p, "totalPrice", ptr, w)
    check_lines(p.products, p.totalQuantity, ptr, ctx, w)
    check_currency(p, ptr, ctx, w)
    return parsed


def check_cart(c: m.Cart, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> None:
    round_money_field(c, "totalPrice", ptr, w)
    check_lines(c.products, c.totalQuantity, ptr, ctx, w)
    check_currency(c, ptr, ctx, w)


def post_check(ev: m.Event, ptr: str, ctx: CheckContext, w: list[dict[str, str]]) -> Any:
    if isinstance(ev, m.PurchaseEvent):
        return check_purchase(ev.purchase, f"{ptr}/purchase", ctx, w)
    if isinstance(ev, m.ProductVisited | m.ProductSearched):
        check_product(ev.product, f"{ptr}/product", ctx, w)
    if isinstance(ev, m.NewsletterSubscribe) and ev.email is not None:
        return identifying_email(ev.email, f"{ptr}/email", w)
    if isinstance(ev, m.FormSubmitted) and ev.primaryKeyField:
        key = ev.primaryKeyField
        here = json_pointer([key], f"{ptr}/payload")
        if key not in ev.payload:
            w.append(
                issue(
                    "invalid_email",
                    here,
                    f"`payload` has no field {shown(key)} (the primaryKeyField); the form is "
                    "recorded on the visitor's contact",
                )
            )
            return None
        return identifying_email(ev.payload[key], here, w)
    return None
