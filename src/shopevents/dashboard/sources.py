"""The sources split: the dashboard page `/stores/{id}/sources` (the figures of
`reports.sources`, as the REST API's `GET /api/reports/sources` and `shopevents report
sources`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shopevents.errors import FieldError


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
