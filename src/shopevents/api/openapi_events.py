"""The OpenAPI operations of custom event types, custom events and Segment write keys
(`custom_events_routes`, `write_keys_routes`)."""

from __future__ import annotations

from typing import Any

from shopevents.api.openapi_common import NO_NUL, NOT_JSON, TOO_LARGE, Op, query, string_id
from shopevents.api.shapes.operations import (
    CustomEventRecorded,
    CustomEventType,
    CustomEventTypeList,
    WriteKeyCreated,
    WriteKeyList,
)
from shopevents.api.shapes.requests import (
    CustomEventBody,
    CustomEventTypeCreation,
    WriteKeyCreation,
)

TYPE_ID = {"eventId": string_id("The custom event type's id")}
NO_TYPE = {404: "No such type"}


def _record(summary: str, operation_id: str, paths: dict[str, Any]) -> Op:
    return Op(
        summary,
        operation_id,
        {
            201: ("Recorded on the contact", CustomEventRecorded),
            200: ("A repeated requestId: the first answer", CustomEventRecorded),
        },
        {
            400: NOT_JSON,
            404: "unknown_custom_event_type: no such type in this store",
            413: TOO_LARGE,
            422: "unmappable_custom_event (a pointer names nothing, the e-mail is not valid), "
            "contact_not_found (createContact false), or validation_failed",
        },
        query=(
            query(
                "createContact",
                {"type": "boolean", "default": True},
                "false: refuse an e-mail no contact has (422 contact_not_found)",
            )
            | {"required": False},
            query(
                "requestId",
                {"type": "string", "minLength": 1, "maxLength": 128, "pattern": NO_NUL},
                "A retry with the same requestId is answered from the first",
            )
            | {"required": False},
        ),
        paths=paths,
        request=CustomEventBody,
    )


OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/api/custom-event-types"): Op(
        "Define a custom event type: its alias and the JSON pointers of the contact's e-mail "
        "and of the payload's fields",
        "createCustomEventType",
        {201: ("Created", CustomEventType)},
        {
            400: NOT_JSON,
            409: "custom_event_type_conflict: the eventId or alias is taken",
            413: TOO_LARGE,
        },
        request=CustomEventTypeCreation,
    ),
    ("GET", "/api/custom-event-types"): Op(
        "The store's custom event types",
        "listCustomEventTypes",
        {200: ("Types, by alias", CustomEventTypeList)},
    ),
    ("GET", "/api/custom-event-types/{event_id}"): Op(
        "One custom event type",
        "getCustomEventType",
        {200: ("The type", CustomEventType)},
        NO_TYPE,
        paths=TYPE_ID,
    ),
    ("DELETE", "/api/custom-event-types/{event_id}"): Op(
        "Remove a custom event type (the events recorded stay)",
        "deleteCustomEventType",
        {204: ("Removed", None)},
        NO_TYPE,
        paths=TYPE_ID,
    ),
    ("POST", "/api/custom-events/alias/{alias}"): _record(
        "Record a custom event of the type with this alias on the contact it names",
        "createCustomEventByAlias",
        {"alias": string_id("The custom event type's alias")},
    ),
    ("POST", "/api/custom-events/event-id/{event_id}"): _record(
        "Record a custom event of the type with this id on the contact it names",
        "createCustomEventByEventId",
        TYPE_ID,
    ),
    ("POST", "/api/write-keys"): Op(
        "Create a Segment write key (shown once; stored hashed)",
        "createWriteKey",
        {201: ("The new key", WriteKeyCreated)},
        {400: NOT_JSON},
        request=WriteKeyCreation,
        request_required=False,
    ),
    ("GET", "/api/write-keys"): Op(
        "The store's Segment write keys (without the keys)",
        "listWriteKeys",
        {200: ("The keys", WriteKeyList)},
    ),
    ("DELETE", "/api/write-keys/{key_id}"): Op(
        "Revoke a Segment write key",
        "revokeWriteKey",
        {204: ("Revoked", None)},
        {404: "No such active key"},
        paths={"keyId": string_id("The write key's id")},
    ),
}
