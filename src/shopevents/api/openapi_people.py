"""The OpenAPI operations of contacts: a contact, its activity, the list, merges, erasure and
its audit log, and the store's retention (`contacts_routes`, `reads_routes`, `carts_routes`,
`erasure_routes`)."""

from __future__ import annotations

from shopevents.api.openapi_bodies import CONTACT_PATCH, RETENTION_PATCH
from shopevents.api.openapi_common import (
    LIMIT,
    NOT_JSON,
    SEARCH_TEXT,
    TOO_LARGE,
    Op,
    json_body,
    query,
    string_id,
)
from shopevents.api.shapes.people import (
    ActivityPage,
    ContactPage,
    ContactSheet,
    ContactWritten,
    Erasure,
    ErasureLog,
    ErasureRequested,
    MergeUndone,
    Retention,
)
from shopevents.schema.emails import EMAIL_PATTERN

EMAIL = {
    "email": (
        "The contact's e-mail",
        {"type": "string", "pattern": EMAIL_PATTERN, "maxLength": 254},
    )
}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/contacts/{email}"): Op(
        "A contact by e-mail, with purchase aggregates, trackers and merges",
        "getContact",
        {200: ("The contact", ContactSheet)},
        {404: "No such contact"},
        paths=EMAIL,
    ),
    ("PATCH", "/api/contacts/{email}"): Op(
        "Update a contact's fields; creates the contact if missing",
        "patchContact",
        {200: ("Updated", ContactWritten), 201: ("Created", ContactWritten)},
        {400: NOT_JSON, 413: TOO_LARGE},
        paths=EMAIL,
        body=json_body(CONTACT_PATCH),
    ),
    ("DELETE", "/api/contacts/{email}"): Op(
        "Erase a contact and every stored copy of its personal data",
        "eraseContact",
        {
            200: (
                "Erased (or nothing to erase: `found` false); idempotent",
                ErasureRequested,
            ),
            202: ("Large: the worker erases it; follow /api/erasures/{id}", ErasureRequested),
        },
        paths=EMAIL,
    ),
    ("GET", "/api/contacts/{email}/activity"): Op(
        "The contact's activity timeline, newest first, paginated",
        "getContactActivity",
        {200: ("A page of activities", ActivityPage)},
        {404: "No such contact"},
        query=(
            query("limit", LIMIT),
            query(
                "cursor",
                {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                "The `nextCursor` of the previous page",
            ),
        ),
        paths=EMAIL,
    ),
    ("GET", "/api/contacts"): Op(
        "Identified contacts, oldest first, keyset-paged; by e-mail prefix, fragment or a "
        "custom field's value",
        "listContacts",
        {200: ("A page of contacts", ContactPage)},
        query=(
            query("limit", LIMIT, "Items per page (50)"),
            query("cursor", SEARCH_TEXT, "The previous page's `nextCursor`"),
            query("emailPrefix", SEARCH_TEXT),
            query("q", SEARCH_TEXT, "A fragment of the e-mail"),
            query(
                "field",
                {"type": "string", "maxLength": 254, "pattern": "^[^:\\x00]+:[^\\x00]*$"},
                "`fieldId:value`, a custom field's value compared as text",
            ),
        ),
    ),
    ("POST", "/api/merges/{merge_id}/undo"): Op(
        "Undo a contact merge",
        "undoMerge",
        {200: ("Undone", MergeUndone)},
        {404: "No such merge, or already undone"},
        paths={"mergeId": string_id("The merge id")},
    ),
    ("GET", "/api/store/retention"): Op(
        "How long raw request bodies and quarantined events are kept",
        "getRetention",
        {200: ("The retention", Retention)},
    ),
    ("PATCH", "/api/store/retention"): Op(
        "Set how long raw request bodies and quarantined events are kept",
        "setRetention",
        {200: ("The retention", Retention)},
        {400: NOT_JSON},
        body=json_body(RETENTION_PATCH),
    ),
    ("GET", "/api/erasures"): Op(
        "The store's erasures (the audit log), newest first",
        "listErasures",
        {200: ("The erasures", ErasureLog)},
    ),
    ("GET", "/api/erasures/{erasure_id}"): Op(
        "One erasure of the audit log",
        "getErasure",
        {200: ("The erasure", Erasure)},
        {404: "No such erasure in this store"},
        paths={"erasureId": ("The erasure's id", {"type": "string"})},
    ),
}
