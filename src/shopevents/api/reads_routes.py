"""REST reads a store's tools expect, keyset-paged (`limit`, `cursor` → `nextCursor` and
`links.next`): contacts (all, or by e-mail prefix or fragment, or by a custom field's value),
products (all, or by a fragment of the id or name), purchases by date range."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api.auth import store_of
from shopevents.api.params import digits, int_param, invalid, text_param
from shopevents.api.shapes.base import Answer, answer
from shopevents.api.shapes.catalog import ProductPage
from shopevents.api.shapes.people import ContactPage
from shopevents.api.shapes.sales import PurchasePage
from shopevents.errors import FieldError, validation_error
from shopevents.reports.timebuckets import local_midnight_us, parse_day, zone
from shopevents.runtime import runtime
from shopevents.storage import listings


def page(
    request: Request, kind: type[Answer], items: list[Any], limit: int, cursor: str | None
) -> Response:
    next_cursor = cursor if len(items) == limit and cursor is not None else None
    link = None
    if next_cursor is not None:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        query["cursor"] = next_cursor
        link = f"{request.url.path}?{urlencode(query)}"
    return answer(kind, {"items": items, "nextCursor": next_cursor, "links": {"next": link}})


FAR = 2**62


def day_bounds(tz_name: str, from_: str | None, to_: str | None) -> tuple[int, int] | None:
    """`from`..`to`, local days of the store, both included (either may be left out); a
    range that ends before it starts is empty."""
    if not from_ and not to_:
        return None
    tz = zone(tz_name)
    start, end = -FAR, FAR
    try:
        first = parse_day(from_, "from") if from_ else None
        last = parse_day(to_, "to") if to_ else None
    except FieldError as exc:
        raise validation_error([exc]) from None
    if first is not None:
        with contextlib.suppress(OverflowError):  # before year 1 in UTC: from the beginning
            start = local_midnight_us(first, tz)
    if last is not None and last < date.max:
        with contextlib.suppress(OverflowError):  # after year 9999 in UTC: to the end
            end = local_midnight_us(last + timedelta(days=1), tz)
    return start, end


async def list_contacts(request: Request) -> Response:
    store = await store_of(request)
    limit = int_param(request, "limit", 50, 1, listings.MAX_LIMIT)
    after = text_param(request, "cursor") or ""
    field = None
    raw_field = text_param(request, "field")
    if raw_field is not None:
        name, sep, value = raw_field.partition(":")
        if not sep or not name:
            raise invalid("/field", f"Expected `fieldId:value`; received {raw_field!r}")
        field = (name, value)
    prefix, contains = text_param(request, "emailPrefix"), text_param(request, "q")
    items = await runtime(request).read(
        lambda c: listings.contacts(
            c,
            store.id,
            email_prefix=prefix,
            email_contains=contains,
            field=field,
            after=after,
            limit=limit,
        )
    )
    return page(request, ContactPage, items, limit, items[-1]["id"] if items else None)


async def list_products(request: Request) -> Response:
    store = await store_of(request)
    limit = int_param(request, "limit", 50, 1, listings.MAX_LIMIT)
    after = text_param(request, "cursor") or ""
    contains = text_param(request, "q")
    items = await runtime(request).read(
        lambda c: listings.products(c, store.id, contains=contains, after=after, limit=limit)
    )
    return page(request, ProductPage, items, limit, items[-1]["productId"] if items else None)


async def list_purchases(request: Request) -> Response:
    store = await store_of(request)
    limit = int_param(request, "limit", 50, 1, listings.MAX_LIMIT)
    q = request.query_params
    bounds = day_bounds(store.timezone, q.get("from"), q.get("to"))
    cursor = request.query_params.get("cursor")
    after = (-(2**62), 0)
    if cursor:
        at, sep, rid = cursor.partition("-")
        if not (sep and digits(at) and digits(rid)):
            raise invalid("/cursor", "Expected a cursor from a previous page (nextCursor)")
        after = (int(at), int(rid))
    rows = await runtime(request).read(
        lambda c: listings.purchases(c, store.id, bounds=bounds, after=after, limit=limit)
    )
    items = [r[2] for r in rows]
    return page(
        request, PurchasePage, items, limit, f"{rows[-1][0]}-{rows[-1][1]}" if rows else None
    )
