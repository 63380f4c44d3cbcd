"""Server-side custom events: a plain JSON body posted to the ingest URL with
`?eventId={custom event type id}` (what integrations such as a WordPress plugin send), and the
REST forms `POST /api/custom-events/alias/{alias}` and `.../event-id/{eventId}`.

The body is mapped through the store's custom event type (`domain.custom_events`): the
contact named by the mapped e-mail is found or created (identity rules), and a `custom` event
`{"eventId": type id, "payload": mapped}` is recorded on it with its `custom-event` activity,
in one transaction with the raw request. The answer has the ingest answer's shape
(`trackerId`, `results[...]`). A post that cannot be used (unknown `eventId`, a body that is
not JSON, a body the type cannot map) is answered with its error (`404`, `400`, `422`, with
`trackerId` and `results`) and its raw body is quarantined; it changes no contact.
A `requestId` (query parameter, or a text `requestId` at the top of the body) makes a retry
harmless: the first answer is given again, marked `duplicateRequest`, and nothing is
recorded twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import msgspec

from shopevents.domain import custom_events
from shopevents.errors import ApiError, StorageUnavailable, issue, storage_error
from shopevents.ids import new_id
from shopevents.ingest import intake
from shopevents.jsoncodec import dumpb, dumps, loads
from shopevents.schema import models as m
from shopevents.schema.records import Verdict
from shopevents.storage import contacts, requests
from shopevents.storage import custom_event_types as types
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

MAX_REQUEST_KEY = 128
_decoder = msgspec.json.Decoder(float_hook=Decimal)


class NoContact(Exception):
    """createContact is false and no contact has the e-mail."""


def query_params(scope: Any) -> dict[str, list[str]]:
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    return parse_qs(raw.decode("latin-1"), keep_blank_values=True)


def event_type_param(scope: Any) -> str | None:
    """The `eventId` query parameter of an ingest post, if any."""
    if not scope.get("query_string"):
        return None
    values = query_params(scope).get("eventId")
    return values[0] if values else None


def decode_body(body: bytes) -> Any:
    """The body as a JSON value (decimals exact); `ApiError invalid_json` with line and
    column otherwise."""
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:
        message = f"The body is not valid JSON: {exc}"
        raise ApiError(
            "invalid_json", message, errors=[issue("invalid_json", "", message)]
        ) from None
    except RecursionError:
        message = "The body is not valid JSON: it is nested too deeply"
        raise ApiError(
            "invalid_json", message, errors=[issue("invalid_json", "", message)]
        ) from None


def request_key_of(params: dict[str, list[str]], doc: Any) -> str | None:
    given = params.get("requestId")
    key: str | None = given[0] if given else None
    if key is None and isinstance(doc, dict) and isinstance(doc.get("requestId"), str):
        key = doc["requestId"]
    if key is None:
        return None
    if not key or len(key) > MAX_REQUEST_KEY or "\x00" in key:
        raise ApiError(
            "invalid_envelope",
            f"requestId: Expected a text of 1 to {MAX_REQUEST_KEY} characters without NUL",
            errors=[
                issue(
                    "invalid_value",
                    "/requestId",
                    f"Expected a text of 1 to {MAX_REQUEST_KEY} characters without NUL",
                )
            ],
        )
    return key


class Post(NamedTuple):
    """A custom post mapped through its type: the type, the contact's e-mail, the payload."""

    event_type: types.CustomEventType
    email: str
    payload: dict[str, Any]


def record(
    conn: Conn,
    now: int,
    store: StoreRecord,
    post: Post,
    *,
    channel: str,
    body: bytes,
    request_key: str | None = None,
    create_contact: bool = True,
) -> dict[str, Any]:
    """Inside a write transaction: the custom event on the contact with this (normalised)
    e-mail, through the intake transaction as a server-side request of one `custom` event.
    Gives the answer (also stored with the request). Raises `NoContact` (having written
    nothing) when `create_contact` is false and the contact does not exist."""
    event_type, email, payload = post
    if (
        not create_contact
        and contacts.with_last_tracker(conn, store.id, email) is None
        and not (
            request_key and requests.response_written(conn, store.id, "request_key", request_key)
        )
    ):  # a retry of a post that was recorded is answered again below
        raise NoContact(email)

    def annotate(conn: Conn, answer: dict[str, Any], contact_id: str, created: bool) -> None:
        answer["customEvent"] = {
            "eventId": event_type.id,
            "alias": event_type.alias,
            "contactId": contact_id,
            "email": email,
            "contactCreated": created,
            "payload": payload,
        }

    event = m.Custom(eventId=event_type.id, payload=payload)
    prepared = intake.Prepared(
        store=store,
        channel=channel,
        body=body,
        request_key=request_key,
        events=[Verdict(index=0, type="custom", value=(event, event_type.alias))],
        email=email,
        server_side=True,
        annotate=annotate,
    )
    return intake.apply(conn, prepared, now)


def quarantine(
    conn: Conn,
    now: int,
    store_id: str,
    body: bytes,
    error: ApiError,
    tracker_id: str,
    *,
    channel: str,
    origin: str | None = None,
    type_id: str | None = None,
) -> dict[str, Any]:
    """Inside a write transaction: a post that cannot be used, kept raw in quarantine with its
    errors and the `eventId` it was posted with (so that a replay maps it again), and the
    request, for the integration debugger. Gives the answer's body."""
    first = error.errors[0] if error.errors else issue("invalid_value", "", error.message)
    result = {"index": 0, "type": "custom", "status": "rejected", "warnings": [], **first}
    answer = {**error.body(), "trackerId": tracker_id, "results": [result]}
    row = requests.RequestRow(
        store_id, now, channel, None, tracker_id, origin, body, dumps(answer), None, 0, 1
    )
    request_id = requests.insert(conn, row)
    answer["quarantineId"] = requests.quarantine(
        conn,
        store_id,
        request_id,
        0,
        "custom",
        error.code,
        now,
        body,
        _errors(first, error.errors, type_id),
        at_once=True,
    )
    return answer


def _errors(first: dict[str, Any], errors: list[Any], type_id: str | None) -> str:
    """The quarantine row's errors (JSON), with the custom event type a replay maps it by."""
    return dumps({"error": first, "errors": errors, "warnings": [], "customEventTypeId": type_id})


def replay_quarantined(
    conn: Conn, store: StoreRecord, quarantine_id: int, raw: bytes, now: int
) -> dict[str, Any] | None:
    """Inside a write transaction: a quarantined server-side custom post mapped again through
    its type as it is now (the type created or fixed since). None if the row is not one.
    Gives `{id, status, ...}` like the other replays: `accepted` (recorded, on the contact the
    e-mail names) or `rejected` (the row keeps the new error)."""
    row = requests.quarantined(conn, store.id, quarantine_id)
    stored = loads(row.errors) if row else None
    if row is None or not isinstance(stored, dict) or not stored.get("customEventTypeId"):
        return None
    type_id = str(stored["customEventTypeId"])
    event_type = types.by_id(conn, store.id, type_id)
    try:
        if event_type is None:
            raise unknown_type(type_id)
        doc = decode_body(raw)
        post = map_or_error(event_type, doc)
    except ApiError as exc:
        first = exc.errors[0] if exc.errors else issue("invalid_value", "", exc.message)
        errors = _errors(first, exc.errors, type_id)
        requests.mark_refused_again(conn, quarantine_id, exc.code, errors, now)
        return {"id": quarantine_id, "status": "rejected", "error": first}
    record(conn, now, store, post, channel="replay", body=raw)
    requests.mark_replayed(conn, quarantine_id, now)
    return {
        "id": quarantine_id,
        "status": "accepted",
        "warnings": [],
        "originalRequestId": row.request_id,
    }


def unknown_type(type_id: str) -> ApiError:
    """The error of a post whose `eventId` names no custom event type of the store."""
    return ApiError(
        "unknown_custom_event_type",
        f"eventId: no custom event type {type_id!r} in this store",
        errors=[
            issue(
                "invalid_value",
                "/eventId",
                f"Expected the id of one of the store's custom event types; received {type_id!r}",
            )
        ],
    )


def unmappable(problems: list[dict[str, str]], what: str) -> ApiError:
    return ApiError(
        "unmappable_custom_event",
        f"The body cannot be mapped through {what}: "
        + "; ".join(f"{p['path'] or '/'}: {p['message']}" for p in problems[:5]),
        errors=problems,
    )


def map_or_error(event_type: types.CustomEventType, doc: Any) -> Post:
    email, payload, problems = custom_events.map_body(
        event_type.contact_email, event_type.payload, doc
    )
    if problems or email is None:
        raise unmappable(problems, f"custom event type {event_type.alias!r}")
    return Post(event_type, email, payload)


async def ingest(
    ctx: Any,
    store: StoreRecord,
    type_id: str,
    scope: Any,
    body: bytes,
    origin: str | None,
    cors: dict[str, str],
) -> tuple[int, Any, dict[str, str]]:
    """A post to the ingest URL with `?eventId=`: the answer (status, JSON value, headers)."""
    retry_after = ctx.settings.ingest.retry_after_seconds
    now_us = ctx.now_us()
    try:
        event_type = await ctx.read(lambda c: types.by_id(c, store.id, type_id))
        error: ApiError | None = None
        try:
            if event_type is None:
                raise unknown_type(type_id)
            doc = decode_body(body)
            key = request_key_of(query_params(scope), doc)
            post = map_or_error(event_type, doc)
        except ApiError as exc:
            error = exc
        if error is not None:
            failed = error
            tracker = new_id(now_us)
            answer = await ctx.write(
                lambda conn, now: quarantine(
                    conn,
                    now,
                    store.id,
                    body,
                    failed,
                    tracker,
                    channel="server",
                    origin=origin,
                    type_id=type_id,
                )
            )
            ctx.count("ingest_requests", str(failed.status))
            ctx.count("ingest_events", "rejected")
            return failed.status, answer, cors
        mapped = post
        answer = await ctx.write(
            lambda conn, now: record(
                conn, now, store, mapped, channel="server", body=body, request_key=key
            )
        )
    except StorageUnavailable as exc:
        raise storage_error(exc, retry_after) from None
    ctx.count("ingest_requests", "200")
    ctx.count("ingest_events", answer["results"][0]["status"])
    return 200, dumpb(answer), cors
