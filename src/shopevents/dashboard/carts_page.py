"""A store's *Carts*: the list by state (with each state's count) and one cart."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard import queries as dq
from shopevents.dashboard.params import PAGE, bounded, paged
from shopevents.dashboard.site import store_view
from shopevents.storage import reads


async def carts(request: Request) -> Response:
    v, store = store_view(request)
    state = v.q.get("state") or None
    if state not in reads.CART_STATES:
        state = None
    page_no = bounded(v.q.get("page"), 1, 1, 10**6)
    rows = await v.read(
        lambda c: reads.list_carts(
            c, store.id, status=state, limit=PAGE + 1, offset=(page_no - 1) * PAGE
        )
    )
    counts = await v.read(lambda c: dq.cart_state_counts(c, store.id))
    return v.render(
        "carts.html",
        active="carts",
        state=state,
        states=reads.CART_STATES,
        counts=counts,
        **paged(rows, page_no, v.q),
    )


async def cart(request: Request) -> Response:
    v, store = store_view(request)
    key = request.path_params["cart_key"]
    found = await v.find(
        lambda c: reads.cart_by_key(c, store.id, key),
        "No such cart",
        "This cart does not exist in this store.",
    )
    return v.render("cart.html", active="carts", k=found)
