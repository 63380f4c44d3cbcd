"""A store's *Sources*: revenue, carts and visits by traffic source, first and last touch
(the figures of `reports.sources`, as the REST API's `GET /api/reports/sources` and
`shopevents report sources`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard.site import store_view
from shopevents.errors import FieldError
from shopevents.reports.service import maintainer, range_for
from shopevents.reports.sources import sources as sources_of


async def sources(request: Request) -> Response:
    v, store = store_view(request)
    ctx = v.ctx
    error = None
    try:
        rng = range_for(ctx, store, v.q)
    except FieldError as exc:
        error = f"{exc.field}: {exc.message}"
        rng = range_for(ctx, store, {})
    maintainer(ctx).poke(store)
    data = await v.read(lambda c: sources_of(c, store, rng))
    return v.render("sources.html", active="sources", rng=rng, error=error, s=data)
