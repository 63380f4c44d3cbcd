"""The OpenAPI operations of contacts: a contact, its activity, the list, merges, erasure and
its audit log, and the store's retention (`contacts_routes`, `reads_routes`, `carts_routes`,
`erasure_routes`)."""

from __future__ import annotations

from shopevents.api import openapi_common as common
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
from shopevents.api.shapes.requests import RetentionPatch
from shopevents.schema import models as m
from shopevents.schema.emails import EMAIL_PATTERN

EMAIL = {
    "email": (
        "The contact's e-mail",
        {"type": "string", "pattern": EMAIL_PATTERN, "maxLength": 254},
    )
}

OPERATIONS: dict[tuple[str, str], common.Op] = {
    ("GET", "/api/contacts/{email}"): common.Op(
        "A contact by e-mail, with purchase aggregates, trackers and merges",
        "getContact",
        {200: ("The contact", ContactSheet)},
        {404: "No such contact"},
        paths=EMAIL,
    ),
    ("PATCH", "/api/contacts/{email}"): common.Op(
        "Update a contact's fields; creates the contact if missing",
        "patchContact",
        {200: ("Updated", ContactWritten), 201: ("Created", ContactWritten)},
        common.BODY_ERRORS,
        paths=EMAIL,
        request=m.EntityFields,
    ),
    ("DELETE", "/api/contacts/{email}"): common.Op(
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
    ("GET", "/api/contacts/{email}/activity"): common.Op(
        "The contact's activity timeline, newest first, paginated",
        "getContactActivity",
        {200: ("A page of activities", ActivityPage)},
        {404: "No such contact"},
        query=(
            common.query("limit", common.LIMIT),
            common.query(
                "cursor",
                {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                "The `nextCursor` of the previous page",
            ),
        ),
        paths=EMAIL,
    ),
    ("GET", "/api/contacts"): common.Op(
        "Identified contacts, oldest first, keyset-paged; by e-mail prefix, fragment or a "
        "custom field's value",
        "listContacts",
        {200: ("A page of contacts", ContactPage)},
        query=(
            common.query("limit", common.LIMIT, "Items per page (50)"),
            common.query("cursor", common.SEARCH_TEXT, "The previous page's `nextCursor`"),
            common.query("emailPrefix", common.SEARCH_TEXT),
            common.query("q", common.SEARCH_TEXT, "A fragment of the e-mail"),
            common.query(
                "field",
                {"type": "string", "maxLength": 254, "pattern": "^[^:\\x00]+:[^\\x00]*$"},
                "`fieldId:value`, a custom field's value compared as text",
            ),
        ),
    ),
    ("POST", "/api/merges/{merge_id}/undo"): common.Op(
        "Undo a contact merge",
        "undoMerge",
        {200: ("Undone", MergeUndone)},
        {404: "No such merge, or already undone"},
        paths={"mergeId": common.string_id("The merge id")},
    ),
    ("GET", "/api/store/retention"): common.Op(
        "How long raw request bodies and quarantined events are kept",
        "getRetention",
        {200: ("The retention", Retention)},
    ),
    ("PATCH", "/api/store/retention"): common.Op(
        "Set how long raw request bodies and quarantined events are kept",
        "setRetention",
        {200: ("The retention", Retention)},
        {400: common.NOT_JSON},
        request=RetentionPatch,
    ),
    ("GET", "/api/erasures"): common.Op(
        "The store's erasures (the audit log), newest first",
        "listErasures",
        {200: ("The erasures", ErasureLog)},
    ),
    ("GET", "/api/erasures/{erasure_id}"): common.Op(
        "One erasure of the audit log",
        "getErasure",
        {200: ("The erasure", Erasure)},
        {404: "No such erasure in this store"},
        paths={"erasureId": ("The erasure's id", {"type": "string", "pattern": common.NO_NUL})},
    ),
}
