"""The dashboard's login form, logging in (a new session, failed attempts throttled per
client address and user name) and logging out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard import auth
from shopevents.dashboard.params import next_url
from shopevents.dashboard.site import redirect, view
from shopevents.storage import accounts
from shopevents.storage.database import Conn


async def login_form(request: Request) -> Response:
    v = view(request)
    if v.user is not None:
        return redirect(next_url(v.q.get("next")))
    users = await v.read(auth.count_users)
    return v.render("login.html", no_users=users == 0, next=next_url(v.q.get("next")), error=None)


async def login(request: Request) -> Response:
    v = view(request)
    throttle = v.site.throttle
    username = v.field("username").strip()
    password = v.field("password")
    client = request.client.host if request.client else ""
    keys = (f"ip:{client}", f"user:{username.lower()}")
    nxt = next_url(v.field("next"))
    if throttle.blocked(*keys):
        return v.render(
            "login.html",
            429,
            no_users=False,
            next=nxt,
            error="Too many failed attempts. Wait a few minutes and try again.",
            username=username,
        )
    user = await v.read(lambda c: auth.check_password(c, username, password))
    if user is None:
        throttle.fail(*keys)
        users = await v.read(auth.count_users)
        return v.render(
            "login.html",
            401,
            no_users=users == 0,
            next=nxt,
            error="That user name and password do not match.",
            username=username,
        )
    throttle.clear(*keys)
    # A new token at login (no session fixation); the old session, if any, ends.
    old_sid, token = v.sid, auth.new_token()
    new_sid = auth.session_id(token)
    agent = request.headers.get("user-agent", "")
    life = v.site.sessions.max_age * 1_000_000

    def begin(c: Conn, now: int) -> None:
        if old_sid is not None:
            accounts.end_session(c, old_sid)
        accounts.create_session(c, new_sid, user[0], now, now + life, agent)

    await v.write(begin)
    v.sid = None  # nothing left to save on the old row
    v.start_session(token)
    return redirect(nxt)


async def logout(request: Request) -> Response:
    v = view(request)
    sid = v.sid
    if sid is not None:
        await v.write(lambda c, now: accounts.end_session(c, sid))
    v.sid = None
    v.start_session(auth.new_token())
    return redirect("/login")
