"""Dashboard: a store's Accounts page (owners grant, change and revoke roles on their store)
and "Your sessions" (every account lists its own sessions and revokes them). The routes use
the dashboard's own page machinery (login, CSRF, store, role), passed in by `dashboard.routes`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from shopevents.storage import accounts


def routes(
    ctx: Any, prefix: str, page: Any, render: Any, read: Any, write: Any, redirect: Any
) -> list[Route]:
    async def show(v: Any, status: int = 200, error: str | None = None) -> Response:
        store = v.store
        rows = await read(lambda c: accounts.store_accounts(c, store.id))
        resp: Response = render(
            v,
            "accounts.html",
            status,
            active="accounts",
            rows=rows,
            roles=accounts.ROLES,
            error=error,
        )
        return resp

    async def list_page(v: Any) -> Response:
        return await show(v)

    async def grant(v: Any) -> Response:
        store = v.store
        username = v.field("username").strip()
        role = v.field("role").strip()
        me = v.user[0]

        def run(c: Any, now: int) -> str:
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

        error = await write(run)
        if error:
            return await show(v, 422, error)
        v.say("ok", f"{username} is {role} of this store.")
        return redirect(f"{v.base}/accounts")

    async def revoke(v: Any) -> Response:
        store = v.store
        raw = v.request.path_params["user_id"]
        uid = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 18 else -1

        def run(c: Any, now: int) -> str:
            before = accounts.role_of(c, uid, store.id)
            if before is None:
                return "This account has no access to this store."
            if before == "owner" and accounts.owner_count(c, store.id) <= 1:
                return "The store's last owner cannot be revoked."
            accounts.revoke(c, uid, store.id)
            return ""

        error = await write(run)
        if error:
            return await show(v, 422, error)
        v.say("ok", "Access revoked; that account's sessions ended.")
        return redirect(f"{v.base}/accounts" if uid != v.user[0] else "/")

    async def sessions_page(v: Any) -> Response:
        uid = v.user[0]
        rows = await read(lambda c: accounts.list_sessions(c, uid, ctx.now_us()))
        resp: Response = render(v, "sessions.html", active="", rows=rows, current=v.sid)
        return resp

    async def session_revoke(v: Any) -> Response:
        uid = v.user[0]
        target = v.request.path_params["session_id"]
        ok = await write(lambda c, now: accounts.end_session(c, target, uid))
        if target == v.sid:
            return redirect("/login")
        v.say("ok" if ok else "error", "Session revoked." if ok else "No such session.")
        return redirect("/account/sessions")

    async def revoke_others(v: Any) -> Response:
        uid, keep = v.user[0], v.sid
        n = await write(lambda c, now: accounts.end_sessions(c, uid, keep))
        v.say("ok", f"{n} other session{'' if n == 1 else 's'} ended.")
        return redirect("/account/sessions")

    own = {"need_store": False}
    return [
        Route(prefix + "/accounts", page(list_page, role="owner"), methods=["GET"]),
        Route(prefix + "/accounts", page(grant, role="owner"), methods=["POST"]),
        Route(prefix + "/accounts/{user_id}/revoke", page(revoke, role="owner"), methods=["POST"]),
        Route("/account/sessions", page(sessions_page, **own), methods=["GET"]),
        Route("/account/sessions/revoke-others", page(revoke_others, **own), methods=["POST"]),
        Route(
            "/account/sessions/{session_id}/revoke", page(session_revoke, **own), methods=["POST"]
        ),
    ]
