"""REST routes of custom events.

Types: `POST /api/custom-event-types` with `{"eventId"?, "alias", "contactEmail": pointer,
"payload"?: {field: pointer}}` (201), `GET /api/custom-event-types`, `GET` and `DELETE
/api/custom-event-types/{eventId}`.

Events (Connectif's REST form): `POST /api/custom-events/alias/{alias}` and
`POST /api/custom-events/event-id/{eventId}`, body `{"email", "payload", "createContact"?,
"requestId"?}`; any other body (Connectif's flat map of fields) is mapped through the type
like an ingest post. `createContact` (body or query; true by default) false refuses an
e-mail no contact has (`422 contact_not_found`). Answered `201` (recorded) or `200`
(a repeated `requestId`: the first answer, `duplicate`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies
from shopevents.api.auth import store_of
from shopevents.api.shapes.base import answer, conform
from shopevents.api.shapes.operations import (
    CustomEventRecorded,
    CustomEventType,
    CustomEventTypeList,
)
from shopevents.api.shapes.requests import CustomEventBody, CustomEventTypeCreation
from shopevents.domain import custom_events
from shopevents.errors import ApiError, issue, validation_error
from shopevents.ingest import custom_posts
from shopevents.runtime import runtime
from shopevents.storage import custom_event_types as types
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


def create_type(conn: Conn, now: int, store_id: str, d: custom_events.Definition) -> Any:
    """Inside a write transaction: the stored type, or an `ApiError` (conflict) to raise."""
    if types.by_id(conn, store_id, d.id) is not None:
        return ApiError(
            "custom_event_type_conflict",
            f"eventId: the store already has a custom event type {d.id!r}",
            errors=[issue("invalid_value", "/eventId", f"Expected a new id; {d.id!r} is taken")],
        )
    if types.by_alias(conn, store_id, d.alias) is not None:
        return ApiError(
            "custom_event_type_conflict",
            f"alias: the store already has a custom event type with alias {d.alias!r}",
            errors=[
                issue("invalid_value", "/alias", f"Expected a new alias; {d.alias!r} is taken")
            ],
        )
    t = types.CustomEventType(
        store_id=store_id,
        id=d.id,
        alias=d.alias,
        contact_email=d.contact_email,
        payload=d.payload,
        created_at=now,
    )
    types.insert(conn, t)
    return t


def _flag(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise validation_error(
        [issue("invalid_type", path, f"Expected true or false; received {value!r}")]
    )


def explicit_form(doc: Any) -> bool:
    """`{"email": text, "payload": object, ...}`: the e-mail and payload as given."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("email"), str)
        and isinstance(doc.get("payload"), dict)
    )


def missing(what: str) -> ApiError:
    return ApiError("unknown_custom_event_type", f"No custom event type {what} in this store")


async def post_type(request: Request) -> Response:
    store = await store_of(request)
    body = await bodies.api_body(request)
    obj = custom_posts.decode_body(body)
    d, problems = custom_events.check_definition(obj, runtime(request).now_us())
    if d is None:
        raise validation_error(problems)
    given = {"alias": d.alias, "contactEmail": d.contact_email, "payload": d.payload}
    conform(
        {**given, "eventId": d.id} if obj.get("eventId") is not None else given,
        CustomEventTypeCreation,
    )
    found = await runtime(request).write(lambda conn, now: create_type(conn, now, store.id, d))
    if isinstance(found, ApiError):
        raise found
    return answer(CustomEventType, found.view(), 201)


async def list_types(request: Request) -> Response:
    store = await store_of(request)
    found = await runtime(request).read(lambda c: types.list_types(c, store.id))
    return answer(CustomEventTypeList, {"items": [t.view() for t in found]})


async def get_type(request: Request) -> Response:
    store = await store_of(request)
    tid = request.path_params["event_id"]
    found = await runtime(request).read(lambda c: types.by_id(c, store.id, tid))
    if found is None:
        raise ApiError("not_found", f"No custom event type {tid!r} in this store")
    return answer(CustomEventType, found.view())


async def delete_type(request: Request) -> Response:
    store = await store_of(request)
    tid = request.path_params["event_id"]
    gone = await runtime(request).write(lambda conn, now: types.delete(conn, store.id, tid))
    if not gone:
        raise ApiError("not_found", f"No custom event type {tid!r} in this store")
    return Response(status_code=204)


async def post_event(
    request: Request, store: StoreRecord, event_type: types.CustomEventType | None, what: str
) -> Response:
    if event_type is None:
        raise missing(what)
    body = await bodies.api_body(request)
    doc = custom_posts.decode_body(body)
    params = dict(request.query_params)
    create_contact = (
        _flag(params["createContact"], "/createContact") if "createContact" in params else True
    )
    if explicit_form(doc):
        if "createContact" in doc:
            create_contact = _flag(doc["createContact"], "/createContact")
        email, problem = custom_events.check_email(doc["email"], "/email", "email")
        if problem or email is None:
            raise custom_posts.unmappable([problem] if problem else [], "the body")
        post = custom_posts.Post(event_type, email, doc["payload"])
    else:
        post = custom_posts.map_or_error(event_type, doc)
    key = custom_posts.request_key_of(
        {"requestId": [params["requestId"]]} if "requestId" in params else {}, doc
    )
    if explicit_form(doc):
        given = {"email": doc["email"], "payload": doc["payload"], "createContact": create_contact}
        if "requestId" not in params and isinstance(doc.get("requestId"), str):
            given["requestId"] = doc["requestId"]
        conform(given, CustomEventBody)

    def run(conn: Conn, now: int) -> Any:
        try:
            return custom_posts.record(
                conn,
                now,
                store,
                post,
                channel="api",
                body=body,
                request_key=key,
                create_contact=create_contact,
            )
        except custom_posts.NoContact:
            return None

    written = await runtime(request).write(run)
    if written is None:
        raise ApiError(
            "contact_not_found",
            f"email: no contact {email!r} in this store, and createContact is false",
            errors=[
                issue(
                    "invalid_value",
                    "/email",
                    f"Expected the e-mail of an existing contact (createContact is false); received {post.email!r}",
                )
            ],
        )
    status = written["results"][0]["status"]
    out = {"status": status, **written["customEvent"]}
    if written.get("duplicateRequest"):
        out["duplicateRequest"] = True
    return answer(CustomEventRecorded, out, 201 if status == "accepted" else 200)


async def post_by_alias(request: Request) -> Response:
    store = await store_of(request)
    alias = request.path_params["alias"]
    found = await runtime(request).read(lambda c: types.by_alias(c, store.id, alias))
    return await post_event(request, store, found, f"with alias {alias!r}")


async def post_by_event_id(request: Request) -> Response:
    store = await store_of(request)
    tid = request.path_params["event_id"]
    found = await runtime(request).read(lambda c: types.by_id(c, store.id, tid))
    return await post_event(request, store, found, repr(tid))
