"""A store's *Contacts*: the search list, one contact (its fields, timeline, carts,
purchases and the contacts merged into it) and undoing a merge."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard import queries as dq
from shopevents.dashboard.params import PAGE, bounded, next_url, query
from shopevents.dashboard.site import redirect, store_view
from shopevents.domain import identity, timeline
from shopevents.errors import PageProblem
from shopevents.storage import reads
from shopevents.storage.database import Conn

STANDARD_FIELDS = (
    "_name",
    "_surname",
    "_birthdate",
    "_mobilePhone",
    "_newsletterSubscriptionStatus",
    "_emailStatus",
    "_mobilePhoneStatus",
    "_smsSubscriptionStatus",
    "_points",
)


async def contacts(request: Request) -> Response:
    v, store = store_view(request)
    text = (v.q.get("q") or "").strip()[:200]
    page_no = bounded(v.q.get("page"), 1, 1, 20)
    rows = await v.read(
        lambda c: reads.search_contacts(c, store.id, text, limit=page_no * PAGE + 1)
    )
    more = len(rows) > page_no * PAGE
    rows = rows[(page_no - 1) * PAGE : page_no * PAGE]
    return v.render(
        "contacts.html",
        active="contacts",
        text=text,
        rows=rows,
        page_no=page_no,
        more=more,
        query=lambda **kw: query(v.q, **kw),
    )


async def contact(request: Request) -> Response:
    v, store = store_view(request)
    cid = request.path_params["contact_id"]
    found = await v.find(
        lambda c: reads.contact_by_id(c, store.id, cid),
        "No such contact",
        "This contact does not exist in this store.",
    )
    before = None
    cursor = v.q.get("before")
    if cursor:
        before = timeline.parse_cursor(cursor)

    def load(c: Conn) -> dict[str, Any]:
        return {
            "details": reads.contact_details(c, store.id, cid),
            "activity": timeline.page(c, store.id, cid, PAGE + 1, before),
            "carts": reads.list_carts(c, store.id, contact_id=cid, limit=20),
            "purchases": reads.list_purchases(c, store.id, contact_id=cid, limit=20),
            "merged_from": dq.merged_contacts(c, store.id, cid),
        }

    data = await v.read(load)
    items = data.pop("activity")
    more = len(items) > PAGE
    items = items[:PAGE]
    next_cursor = f"{items[-1]['_at']}-{items[-1]['id']}" if more and items else None
    fields = {
        k: val
        for k, val in found.items()
        if not k.startswith("_") and k not in ("id",) and not isinstance(val, dict | list)
    }
    std = {k: found.get(k) for k in STANDARD_FIELDS if found.get(k) is not None}
    return v.render(
        "contact.html",
        active="contacts",
        c=found,
        std=std,
        custom=fields,
        activity=items,
        next_cursor=next_cursor,
        **data,
    )


async def undo_merge(request: Request) -> Response:
    v, store = store_view(request)
    raw = request.path_params["merge_id"]
    back = next_url(v.field("back")) if v.field("back") else f"{v.base}/contacts"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise PageProblem(404, "No such merge", "This merge does not exist.")
    ok = await v.write(lambda c, now: identity.unmerge(c, store.id, int(raw), now))
    if ok:
        v.say("ok", f"Merge {raw} undone: the merged contact and what moved are separate again.")
    else:
        v.say("error", f"Merge {raw} cannot be undone (it does not exist or was undone already).")
    return redirect(back)
