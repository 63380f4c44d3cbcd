"""The dashboard's home (the last store opened, or the welcome form that creates the first
store), creating a store and the store switcher."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shopevents.dashboard import settings_page
from shopevents.dashboard.site import NAV, View, redirect, view
from shopevents.domain import store_settings
from shopevents.errors import PageProblem
from shopevents.storage import accounts, stores
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord


def may_create_store(v: View) -> bool:
    """Owners create stores (and own them); so does anyone while there is no store."""
    return v.store_count == 0 or "owner" in v.roles.values()


async def home(request: Request) -> Response:
    v = view(request)
    if not v.stores:
        if not may_create_store(v):
            return v.render("no_store.html", active="")
        return v.render("welcome.html", active="", error=None, form={})
    last = v.session.get("store")
    target = next((s for s in v.stores if s.id == last), v.stores[0])
    return redirect(f"/stores/{quote(target.id, safe='')}/")


async def create_store(request: Request) -> Response:
    v = view(request)
    if not may_create_store(v):
        raise PageProblem(
            403,
            "Not allowed",
            "Only an owner of a store can create stores (code role_required).",
        )
    form = {k: v.field(k) for k in ("name", "currency", "timezone")}
    try:
        changes = store_settings.parse_changes(
            {
                "name": form["name"],
                "currency": form["currency"] or "EUR",
                "timezone": form["timezone"] or "UTC",
            }
        )
    except store_settings.SettingError as exc:
        error = settings_page.setting_message(exc)
        return v.render("welcome.html", 422, active="", error=error, form=form)

    assert v.user is not None
    uid = v.user[0]

    def make(conn: Conn, now: int) -> tuple[StoreRecord, tuple[str, str]]:
        rec = stores.create_store(
            conn,
            changes["name"],
            now=now,
            currency=changes["currency"],
            timezone=changes["timezone"],
        )
        accounts.grant(conn, uid, rec.id, "owner", now)
        return rec, stores.create_api_key(conn, rec.id, now=now, name="default")

    rec, key = await v.write(make)
    v.roles[rec.id] = "owner"
    v.stores = [s for s in await v.read(stores.list_stores) if s.id in v.roles]
    v.store = rec
    v.role = "owner"
    v.session["store"] = rec.id
    v.changed = True
    v.flash.append(
        ("ok", f"Store “{rec.name}” created. Paste the loader snippet below into your shop.")
    )
    return await settings_page.show(v, new_key=key)


async def switch_store(request: Request) -> Response:
    v = view(request)
    sid = v.q.get("store") or ""
    sub = {key: path for key, _, path in NAV}.get(v.q.get("section") or "", "")
    if not any(s.id == sid for s in v.stores):
        return redirect("/")
    return redirect(f"/stores/{quote(sid, safe='')}/{sub}")


async def store_root(request: Request) -> Response:
    """`/stores/{id}` is the store's overview, `/stores/{id}/`."""
    return RedirectResponse(request.url.path + "/", status_code=307)
