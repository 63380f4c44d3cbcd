"""A store's *Catalog*: the product search list and one product."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard import queries as dq
from shopevents.dashboard.params import PAGE, bounded, paged
from shopevents.dashboard.site import store_view
from shopevents.storage import reads

MAIN_FIELDS = ("productId", "name", "unitPrice", "availability", "productDetailUrl")


async def catalog(request: Request) -> Response:
    v, store = store_view(request)
    text = (v.q.get("q") or "").strip()[:200]
    page_no = bounded(v.q.get("page"), 1, 1, 10**6)
    rows = await v.read(
        lambda c: reads.search_products(
            c, store.id, text, limit=PAGE + 1, offset=(page_no - 1) * PAGE
        )
    )
    total = await v.read(lambda c: dq.count_products(c, store.id))
    return v.render(
        "catalog.html",
        active="catalog",
        text=text,
        total=total,
        **paged(rows, page_no, v.q),
    )


async def product(request: Request) -> Response:
    v, store = store_view(request)
    pid = request.path_params["product_id"]
    found = await v.find(
        lambda c: reads.product_by_id(c, store.id, pid),
        "No such product",
        "This product is not in the catalog.",
    )
    extra = {k: val for k, val in found.items() if k not in MAIN_FIELDS}
    return v.render("product.html", active="catalog", p=found, extra=extra)
