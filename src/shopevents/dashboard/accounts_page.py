"""Dashboard: a store's Accounts page (owners grant, change and revoke roles on their store)
and "Your sessions" (every account lists its own sessions and revokes them)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard.site import View, redirect, store_view, view
from shopevents.storage import accounts
from shopevents.storage.database import Conn


async def show(v: View, status: int = 200, error: str | None = None) -> Response:
    store = v.open_store
    rows = await v.read(lambda c: accounts.store_accounts(c, store.id))
    return v.render(
        "accounts.html",
        status,
        active="accounts",
        rows=rows,
        roles=accounts.ROLES,
        error=error,
    )


async def list_page(request: Request) -> Response:
    return await show(view(request))


async def grant(request: Request) -> Response:
    v, store = store_view(request)
    username = v.field("username").strip()
    role = v.field("role").strip()
    assert v.user is not None
    me = v.user[0]

    def run(c: Conn, now: int) -> str:
        uid = accounts.user_id_of(c, username) if username else None
        if uid is None:
            return f"User name: there is no account {username!r}."
        if role not in accounts.RANK:
            return f"Role: a role is one of {', '.join(accounts.ROLES)}; received {role!r}."
        before = accounts.role_of(c, uid, store.id)
        if before == "owner" and role != "owner" and accounts.owner_count(c, store.id) <= 1:
            return "Role: the store's last owner stays an owner."
        accounts.grant(c, uid, store.id, role, now)
        if before is not None and before != role and uid != me:
            accounts.end_sessions(c, uid)  # a changed role applies from a new login
        return ""

    error = await v.write(run)
    if error:
        return await show(v, 422, error)
    v.say("ok", f"{username} is {role} of this store.")
    return redirect(f"{v.base}/accounts")


async def revoke(request: Request) -> Response:
    v, store = store_view(request)
    assert v.user is not None
    raw = request.path_params["user_id"]
    uid = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 18 else -1

    def run(c: Conn, now: int) -> str:
        before = accounts.role_of(c, uid, store.id)
        if before is None:
            return "This account has no access to this store."
        if before == "owner" and accounts.owner_count(c, store.id) <= 1:
            return "The store's last owner cannot be revoked."
        accounts.revoke(c, uid, store.id)
        return ""

    error = await v.write(run)
    if error:
        return await show(v, 422, error)
    v.say("ok", "Access revoked; that account's sessions ended.")
    return redirect(f"{v.base}/accounts" if uid != v.user[0] else "/")


async def sessions(request: Request) -> Response:
    v = view(request)
    assert v.user is not None
    uid, ctx = v.user[0], v.ctx
    rows = await v.read(lambda c: accounts.list_sessions(c, uid, ctx.now_us()))
    return v.render("sessions.html", active="", rows=rows, current=v.sid)


async def session_revoke(request: Request) -> Response:
    v = view(request)
    assert v.user is not None
    uid = v.user[0]
    target = request.path_params["session_id"]
    ok = await v.write(lambda c, now: accounts.end_session(c, target, uid))
    if target == v.sid:
        return redirect("/login")
    v.say_outcome(ok, "Session revoked.", "No such session.")
    return redirect("/account/sessions")


async def revoke_others(request: Request) -> Response:
    v = view(request)
    assert v.user is not None
    uid, keep = v.user[0], v.sid
    n = await v.write(lambda c, now: accounts.end_sessions(c, uid, keep))
    v.say("ok", f"{n} other session{'' if n == 1 else 's'} ended.")
    return redirect("/account/sessions")
