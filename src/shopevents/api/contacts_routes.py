"""REST routes of contacts by e-mail: `GET` (the contact with its totals and fields), `PATCH`
(create or change its fields) and `GET .../activity` (its timeline, keyset-paged)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies, writes
from shopevents.api.auth import store_of
from shopevents.api.params import email_param, int_param, invalid
from shopevents.api.purchases_routes import check_context, strict
from shopevents.api.shapes.base import answer
from shopevents.api.shapes.people import ActivityPage, ContactSheet, ContactWritten
from shopevents.domain import timeline
from shopevents.errors import ApiError
from shopevents.jsoncodec import plain
from shopevents.runtime import runtime
from shopevents.schema.verdicts import decode_entity
from shopevents.storage import reads
from shopevents.storage.stores import StoreRecord


async def contact_of(request: Request, store: StoreRecord) -> dict[str, Any]:
    """The contact the path's e-mail names; `404` if the store has none."""
    email = email_param(request.path_params["email"])
    found = await runtime(request).read(lambda c: reads.contact_by_email(c, store.id, email))
    if found is None:
        raise ApiError("not_found", f"No contact {email!r} in this store")
    return found


async def get_contact(request: Request) -> Response:
    store = await store_of(request)
    contact = await contact_of(request, store)
    details = await runtime(request).read(
        lambda c: reads.contact_details(c, store.id, contact["id"])
    )
    return answer(ContactSheet, {**contact, **details})


async def patch_contact(request: Request) -> Response:
    store = await store_of(request)
    email = email_param(request.path_params["email"])
    obj = await bodies.json_object(request)
    for key in ("primaryKey", "trackerId", "_email"):
        obj.pop(key, None)
    verdict = decode_entity(b"", check_context(request, store), base="", obj=obj)
    info = strict(verdict)
    fields = {k: v for k, v in plain(info.fields).items() if k not in ("primaryKey", "trackerId")}
    fields.update(info.custom)
    contact, created = await runtime(request).write(
        lambda conn, now: writes.patch_contact(conn, now, store.id, email, fields)
    )
    assert contact is not None  # written in the same transaction
    return answer(
        ContactWritten, {**contact, "warnings": verdict.warnings}, 201 if created else 200
    )


async def contact_activity(request: Request) -> Response:
    store = await store_of(request)
    contact = await contact_of(request, store)
    limit = int_param(request, "limit", 50, 1, 500)
    cursor = request.query_params.get("cursor")
    before = None
    if cursor:
        before = timeline.parse_cursor(cursor)
        if before is None:
            raise invalid("/cursor", "Expected a cursor from a previous page")
    items = await runtime(request).read(
        lambda c: timeline.page(c, store.id, contact["id"], limit + 1, before)
    )
    more = len(items) > limit
    items = items[:limit]
    next_cursor = f"{items[-1]['_at']}-{items[-1]['id']}" if more and items else None
    for it in items:
        it.pop("_at", None)
    link = f"{request.url.path}?limit={limit}&cursor={next_cursor}" if next_cursor else None
    return answer(
        ActivityPage, {"items": items, "nextCursor": next_cursor, "links": {"next": link}}
    )
