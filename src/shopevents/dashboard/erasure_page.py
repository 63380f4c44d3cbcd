"""The dashboard's erasure action: on a contact's page, *Erase this contact* asks for the
e-mail again as confirmation, then erases the contact as `DELETE /api/contacts/{email}` does
(the contacts merged into it and every stored copy of their personal data; figures stay as
anonymous ones). A large erasure is left to the worker. An admin's role is needed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.clock import to_micros
from shopevents.dashboard.site import redirect, store_view
from shopevents.domain import erasure
from shopevents.ids import new_id
from shopevents.storage import reads


async def erase(request: Request) -> Response:
    v, store = store_view(request)
    cid = request.path_params["contact_id"]
    found = await v.read(lambda c: reads.contact_by_id(c, store.id, cid))
    email = (found or {}).get("_email")
    back = f"{v.base}/contacts/{cid}"
    if not email:
        v.say("error", "Only a contact with an e-mail can be erased from here.")
        return redirect(back)
    if v.field("confirm").strip().lower() != email.lower():
        v.say("error", f"Type the contact's e-mail ({email}) to confirm the erasure.")
        return redirect(back)
    actor = f"user:{v.user[1]}" if v.user else "user"
    job = new_id(to_micros(v.ctx.clock.now()))
    out = await v.write(lambda c, now: erasure.request(c, store.id, email, actor, now, job))
    if out.status == "pending":
        v.say("ok", f"The erasure of {email} is large: the worker does it (erasure {out.id}).")
    else:
        counts = ", ".join(f"{k} {n}" for k, n in sorted(out.counts.items()))
        v.say("ok", f"{email} was erased (erasure {out.id}): {counts or 'nothing left'}.")
    return redirect(f"{v.base}/contacts")
