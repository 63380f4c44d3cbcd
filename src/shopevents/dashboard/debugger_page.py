"""The dashboard's *Integration* pages: the store's requests (live, paged back with an
"older" cursor, filtered by an event's outcome and type and by a request number, tracker id
or e-mail), their JSON for the live list, and one request's verdicts, raw body and response."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.client.snippet import loader_snippet
from shopevents.dashboard import format, views
from shopevents.dashboard import queries as dq
from shopevents.dashboard.params import PAGE, query
from shopevents.dashboard.site import store_view
from shopevents.errors import PageProblem
from shopevents.reports import quality_report
from shopevents.reports.service import maintainer, range_for
from shopevents.reports.timebuckets import local_today
from shopevents.responses import json_response
from shopevents.schema.models import EVENT_TYPES

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


async def debugger(request: Request) -> Response:
    v, store = store_view(request)
    ctx = v.ctx
    filters = filters_of(v.q)
    before = request_id(v.q.get("before"))
    rows, older = await v.read(
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
    quality = await v.read(lambda c: quality_report.data_quality(c, store, rng, until_us=now))
    base = v.public_base
    return v.render(
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


async def requests_json(request: Request) -> Response:
    v, store = store_view(request)
    after = request_id(v.q.get("after")) or 0
    before = request_id(v.q.get("before"))
    filters = filters_of(v.q)
    rows, older = await v.read(
        lambda c: dq.request_page(
            c, store.id, after_id=after, before_id=before, limit=LIVE_BATCH, **filters
        )
    )
    return json_response({"items": rows, "older": older})


async def request_page(request: Request) -> Response:
    v, store = store_view(request)
    rid = request.path_params["request_id"]
    as_json = rid.endswith(".json")
    rid = rid.removesuffix(".json")
    if not (rid.isascii() and rid.isdigit()) or len(rid) > 18:
        raise PageProblem(404, "No such request", "This request does not exist.")
    found = await v.read(lambda c: dq.request_detail(c, store.id, int(rid)))
    if found is None:
        if as_json:
            return json_response({"error": "not found"}, 404)
        raise PageProblem(404, "No such request", "This request does not exist in this store.")
    if as_json:
        found["bodyPretty"] = format.pretty_json(found["body"])
        found["responsePretty"] = format.pretty_json(found["response"])
        return json_response(found)
    return v.render("request.html", active="debugger", r=found)
