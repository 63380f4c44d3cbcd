"""A store's webhooks: adding, pausing and removing endpoints (on the settings page), each
endpoint's delivery log (by status), one delivery, and replaying failed or dead ones."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard import queries as dq
from shopevents.dashboard import settings_page
from shopevents.dashboard.params import PAGE, bounded, next_url, paged
from shopevents.dashboard.site import View, redirect, store_view
from shopevents.errors import PageProblem
from shopevents.storage.database import Conn
from shopevents.webhooks import delivery_log
from shopevents.webhooks import endpoints as whe


async def webhook_create(request: Request) -> Response:
    v, store = store_view(request)
    assert v.form is not None
    topics = [t for t in v.form.getlist("topics") if isinstance(t, str)]
    url, description = v.field("url"), v.field("description")
    allow = v.ctx.settings.webhooks.allow_private_addresses
    try:
        whe.validate(url, topics, description, allow_private=allow)
    except ValueError as exc:
        issues = getattr(exc, "errors", None) or [exc]
        text = "; ".join(str(getattr(e, "message", e)) for e in issues)
        return await settings_page.show(v, webhook_error=text, status=422)
    limit = v.ctx.settings.webhooks.max_endpoints_per_store

    def create(c: Conn, now: int) -> tuple[whe.Endpoint, str] | whe.EndpointLimitError:
        try:
            return whe.create_endpoint(
                c,
                store.id,
                url,
                topics,
                now,
                description=description,
                allow_private=allow,
                max_endpoints=limit,
            )
        except whe.EndpointLimitError as exc:
            return exc  # nothing was written; the shared transaction stays intact

    created = await v.write(create)
    if isinstance(created, whe.EndpointLimitError):
        return await settings_page.show(v, webhook_error=created.message, status=409)
    endpoint, secret = created
    v.flash.append(("ok", f"Webhook endpoint {endpoint.id} created. Copy its signing secret now."))
    return await settings_page.show(v, new_webhook=(endpoint.id, secret))


async def webhook_change(request: Request) -> Response:
    v, store = store_view(request)
    eid = request.path_params["endpoint_id"]
    action = v.field("action")
    if action == "remove":
        ok = await v.write(lambda c, now: whe.remove_endpoint(c, eid, store.id))
        v.say_outcome(ok, f"Endpoint {eid} removed.", f"No endpoint {eid}.")
    elif action in ("pause", "resume"):
        ok = await v.write(
            lambda c, now: whe.set_enabled(c, eid, action == "resume", now, store.id)
        )
        done = "resumed" if action == "resume" else "paused"
        v.say_outcome(ok, f"Endpoint {eid} {done}.", f"No endpoint {eid}.")
    return redirect(f"{v.base}/settings#webhooks")


async def endpoint_of(request: Request) -> tuple[View, whe.Endpoint]:
    """The request's view and the store's endpoint named in the path (else 404)."""
    v, store = store_view(request)
    eid = request.path_params["endpoint_id"]
    found = await v.find(
        lambda c: whe.get_endpoint(c, eid, store.id),
        "No such endpoint",
        "This webhook endpoint does not exist.",
    )
    return v, found


async def webhooks(request: Request) -> Response:
    v, store = store_view(request)
    ctx = v.ctx
    rows = await v.read(lambda c: whe.list_endpoints(c, store.id, ctx.now_us()))
    return v.render("webhooks.html", active="webhooks", endpoints=rows)


async def webhook_endpoint(request: Request) -> Response:
    v, endpoint = await endpoint_of(request)
    store_id = endpoint.store_id
    status = v.q.get("status") or None
    if status not in delivery_log.STATUSES:
        status = None
    page_no = bounded(v.q.get("page"), 1, 1, 10**6)
    now = v.ctx.now_us()

    def load(c: Conn) -> dict[str, Any]:
        return {
            "rows": delivery_log.list_deliveries(
                c,
                store_id,
                endpoint.id,
                status,
                limit=PAGE + 1,
                offset=(page_no - 1) * PAGE,
                now=now,
            ),
            "stats": whe.endpoint_stats(c, [endpoint.id], now)[endpoint.id],
        }

    data = await v.read(load)
    return v.render(
        "webhook_endpoint.html",
        active="webhooks",
        e=whe.endpoint_view(endpoint, data["stats"]),
        show=status,
        statuses=delivery_log.STATUSES,
        total=sum(data["stats"][s] for s in delivery_log.STATUSES),
        **paged(data["rows"], page_no, v.q),
    )


async def webhook_delivery(request: Request) -> Response:
    v, endpoint = await endpoint_of(request)
    store_id = endpoint.store_id
    did = request.path_params["delivery_id"]
    ctx = v.ctx
    found = await v.read(lambda c: delivery_log.get_delivery(c, did, store_id, ctx.now_us()))
    if found is None or found["endpointId"] != endpoint.id:
        raise PageProblem(404, "No such delivery", "This delivery does not exist.")
    return v.render(
        "webhook_delivery.html", active="webhooks", e=whe.endpoint_view(endpoint), d=found
    )


def webhook_back(v: View, endpoint_id: str) -> str:
    """Back to the page of the endpoint the form was sent from (its log, filtered or not)."""
    own = f"{v.base}/webhooks/{quote(endpoint_id, safe='')}"
    back = next_url(v.field("back"))
    return back if back == own or back.startswith(own + "?") or back.startswith(own + "/") else own


async def webhook_replay(request: Request) -> Response:
    v, endpoint = await endpoint_of(request)
    store_id = endpoint.store_id
    did = request.path_params["delivery_id"]

    def run(c: Conn, now: int) -> str | None:
        if dq.delivery_endpoint(c, store_id, did) != endpoint.id:
            return None
        return delivery_log.replay(c, did, now, store_id)

    before = await v.write(run)
    if before is None:
        v.say("error", f"No delivery {did} for this endpoint.")
    elif before in ("failed", "dead"):
        v.say("ok", f"Delivery {did} ({before}) is queued again: it is pending, due now.")
    else:
        v.say("info", f"Delivery {did} is {before}; only failed or dead ones are replayed.")
    return redirect(webhook_back(v, endpoint.id))


async def webhook_replay_dead(request: Request) -> Response:
    v, endpoint = await endpoint_of(request)
    store_id = endpoint.store_id
    n = await v.write(
        lambda c, now: delivery_log.replay_all(
            c, store_id, now, statuses=("dead",), endpoint_id=endpoint.id
        )
    )
    if n:
        v.say("ok", f"{n} dead deliver{'y is' if n == 1 else 'ies are'} queued again.")
    else:
        v.say("info", "No dead deliveries to replay for this endpoint.")
    return redirect(webhook_back(v, endpoint.id))
