"""The dashboard's *Custom events* page: the store's custom event types (list, create,
delete) and the URL a back end posts its events to. The routes use the dashboard's own
page machinery (login, CSRF, store), passed in by `dashboard.routes`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from shopevents.api.custom_events_routes import create_type
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


def routes(
    ctx: Any, prefix: str, page: Any, render: Any, read: Any, write: Any, redirect: Any
) -> list[Route]:
    """`prefix` is the store's path pattern (`/stores/{store_id}`)."""

    async def show(
        v: Any,
        status: int = 200,
        form: dict[str, str] | None = None,
        errors: list[str] | None = None,
    ) -> Response:
        store = v.store
        found = await read(lambda c: types.list_types(c, store.id))
        return render(
            v,
            "custom_events.html",
            status,
            active="custom-events",
            types=found,
            form=form or {},
            errors=errors or [],
            ingest=f"/integration-type/system/scrippet-notification/{quote(store.id, safe='')}",
        )

    async def list_page(v: Any) -> Response:
        return await show(v)

    async def create(v: Any) -> Response:
        store = v.store
        form = {k: v.field(k).strip() for k in ("alias", "contact_email", "event_id", "fields")}
        payload, errors = parse_fields(v.field("fields"))
        obj: dict[str, Any] = {
            "alias": form["alias"] or None,
            "contactEmail": form["contact_email"] or None,
            "payload": payload,
        }
        if form["event_id"]:
            obj["eventId"] = form["event_id"]
        d, problems = custom_events.check_definition(obj, ctx.now_us())
        errors += [
            f"{FIELD_NAMES.get(p['path'], 'Payload field ' + p['path'].removeprefix('/payload/'))}: {p['message']}"
            for p in problems
        ]
        if d is None or errors:
            return await show(v, 422, form, errors)
        definition = d
        found = await write(lambda c, now: create_type(c, now, store.id, definition))
        if isinstance(found, ApiError):
            return await show(v, 409, form, [found.message])
        v.say("ok", f"Custom event type “{found.alias}” created: its id is {found.id}.")
        return redirect(f"{v.base}/custom-events")

    async def delete(v: Any) -> Response:
        store = v.store
        tid = v.request.path_params["event_id"]
        gone = await write(lambda c, now: types.delete(c, store.id, tid))
        v.say(
            "ok" if gone else "error",
            f"Custom event type {tid} deleted; the events recorded with it stay."
            if gone
            else f"No custom event type {tid}.",
        )
        return redirect(f"{v.base}/custom-events")

    return [
        Route(prefix + "/custom-events", page(list_page), methods=["GET"]),
        Route(prefix + "/custom-events", page(create), methods=["POST"]),
        Route(prefix + "/custom-events/{event_id}/delete", page(delete), methods=["POST"]),
    ]
