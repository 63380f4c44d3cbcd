"""The dashboard's *Integration* pages: the store's requests (live, paged back with an
"older" cursor, filtered by an event's outcome and type and by a request number, tracker id
or e-mail), their JSON for the live list, and one request's verdicts, raw body and response.
The routes use the dashboard's own page machinery (login, CSRF, store), passed in by
`dashboard.routes`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from shopevents.dashboard import format, views
from shopevents.dashboard import queries as dq
from shopevents.reports import queries as rq
from shopevents.reports.service import maintainer, range_for
from shopevents.reports.timebuckets import local_today
from shopevents.responses import json_response
from shopevents.schema.models import EVENT_TYPES

PAGE = 50
LIVE_BATCH = 50


def filters_of(params: Any) -> dict[str, Any]:
    """The list's filters from the query (unknown values are ignored, not errors)."""
    status = params.get("status") or None
    event_type = params.get("type") or None
    return {
        "status": status if status in dq.REQUEST_STATUSES else None,
        "event_type": event_type if event_type in EVENT_TYPES else None,
        "text": (params.get("q") or "").strip()[:200] or None,
    }


def request_id(text: str | None) -> int | None:
    """A request id from the query (`before`, `after`), or None."""
    raw = text or ""
    if raw.isascii() and raw.isdigit() and len(raw) <= 17:
        return int(raw)
    return None


def routes(
    ctx: Any,
    prefix: str,
    page: Any,
    render: Any,
    read: Any,
    public_base: Callable[[Any], str],
    problem: Callable[[int, str, str], Exception],
    query: Callable[..., str],
) -> list[Route]:
    async def debugger(v: Any) -> Response:
        from shopevents.client.snippet import loader_snippet

        store = v.store
        assert store is not None
        filters = filters_of(v.q)
        before = request_id(v.q.get("before"))
        rows, older = await read(
            lambda c: dq.request_page(c, store.id, before_id=before, limit=PAGE, **filters)
        )
        live = before is None and not any(filters.values())
        today = local_today(store.timezone, ctx.clock.now())
        rng = range_for(
            ctx,
            store,
            {
                "from": (today.fromordinal(today.toordinal() - 1)).isoformat(),
                "to": today.isoformat(),
                "interval": "hour",
            },
            allow_hour=True,
        )
        maintainer(ctx).poke(store)
        now = ctx.now_us()
        quality = await read(lambda c: rq.data_quality(c, store, rng, until_us=now))
        base = public_base(v)
        return render(  # type: ignore[no-any-return]
            v,
            "debugger.html",
            active="debugger",
            rows=rows,
            last_id=rows[0]["id"] if rows else 0,
            live=live,
            older=older,
            paged=before is not None,
            filters=filters,
            filtered=any(filters.values()),
            statuses=dq.REQUEST_STATUSES,
            event_types=sorted(EVENT_TYPES),
            query=lambda **kw: query(v.q, **kw),
            quality=quality,
            quality_view=views.quality_chart(quality),
            ingest_url=f"{base}/integration-type/system/scrippet-notification/{store.id}",
            snippet=loader_snippet(store.id, base),
        )

    async def requests_json(v: Any) -> Response:
        store = v.store
        assert store is not None
        after = request_id(v.q.get("after")) or 0
        before = request_id(v.q.get("before"))
        filters = filters_of(v.q)
        rows, older = await read(
            lambda c: dq.request_page(
                c, store.id, after_id=after, before_id=before, limit=LIVE_BATCH, **filters
            )
        )
        return json_response({"items": rows, "older": older})

    async def request_page(v: Any) -> Response:
        store = v.store
        assert store is not None
        rid = v.request.path_params["request_id"]
        as_json = rid.endswith(".json")
        rid = rid.removesuffix(".json")
        if not (rid.isascii() and rid.isdigit()) or len(rid) > 18:
            raise problem(404, "No such request", "This request does not exist.")
        found = await read(lambda c: dq.request_detail(c, store.id, int(rid)))
        if found is None:
            if as_json:
                return json_response({"error": "not found"}, 404)
            raise problem(404, "No such request", "This request does not exist in this store.")
        if as_json:
            found["bodyPretty"] = format.pretty_json(found["body"])
            found["responsePretty"] = format.pretty_json(found["response"])
            return json_response(found)
        return render(v, "request.html", active="debugger", r=found)  # type: ignore[no-any-return]

    return [
        Route(prefix + "/debugger", page(debugger), methods=["GET"]),
        Route(prefix + "/debugger/requests.json", page(requests_json), methods=["GET"]),
        Route(prefix + "/debugger/requests/{request_id}", page(request_page), methods=["GET"]),
    ]
