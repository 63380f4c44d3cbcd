"""The dashboard's *Custom events* page: the store's custom event types (list, create,
delete) and the URL a back end posts its events to."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api.custom_events_routes import create_type
from shopevents.dashboard.site import View, redirect, store_view, view
from shopevents.domain import custom_events
from shopevents.errors import ApiError
from shopevents.storage import custom_event_types as types

FIELD_NAMES = {"/alias": "Alias", "/contactEmail": "E-mail pointer", "/eventId": "Id"}


def parse_fields(text: str) -> tuple[dict[str, str] | None, list[str]]:
    """`name=/pointer` lines (blank lines skipped); none: None (the whole body)."""
    out: dict[str, str] = {}
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, pointer = line.strip().partition("=")
        if not sep:
            problems.append(
                f"Payload fields, line {n}: expected name=/pointer, such as site=/site; "
                f"received {line.strip()!r}"
            )
            continue
        out[name.strip()] = pointer.strip()
    return (out or None), problems


async def show(
    v: View,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: list[str] | None = None,
) -> Response:
    store = v.open_store
    found = await v.read(lambda c: types.list_types(c, store.id))
    return v.render(
        "custom_events.html",
        status,
        active="custom-events",
        types=found,
        form=form or {},
        errors=errors or [],
        ingest=f"/integration-type/system/scrippet-notification/{quote(store.id, safe='')}",
    )


async def list_page(request: Request) -> Response:
    return await show(view(request))


async def create(request: Request) -> Response:
    v, store = store_view(request)
    form = {k: v.field(k).strip() for k in ("alias", "contact_email", "event_id", "fields")}
    payload, errors = parse_fields(v.field("fields"))
    obj: dict[str, Any] = {
        "alias": form["alias"] or None,
        "contactEmail": form["contact_email"] or None,
        "payload": payload,
    }
    if form["event_id"]:
        obj["eventId"] = form["event_id"]
    d, problems = custom_events.check_definition(obj, v.ctx.now_us())
    errors += [
        f"{FIELD_NAMES.get(p['path'], 'Payload field ' + p['path'].removeprefix('/payload/'))}: {p['message']}"
        for p in problems
    ]
    if d is None or errors:
        return await show(v, 422, form, errors)
    definition = d
    found = await v.write(lambda c, now: create_type(c, now, store.id, definition))
    if isinstance(found, ApiError):
        return await show(v, 409, form, [found.message])
    v.say("ok", f"Custom event type “{found.alias}” created: its id is {found.id}.")
    return redirect(f"{v.base}/custom-events")


async def delete(request: Request) -> Response:
    v, store = store_view(request)
    tid = request.path_params["event_id"]
    gone = await v.write(lambda c, now: types.delete(c, store.id, tid))
    v.say_outcome(
        gone,
        f"Custom event type {tid} deleted; the events recorded with it stay.",
        f"No custom event type {tid}.",
    )
    return redirect(f"{v.base}/custom-events")
