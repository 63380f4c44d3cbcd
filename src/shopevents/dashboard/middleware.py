"""The dashboard's middleware (pure ASGI), outermost first, so that an endpoint only shows
its page:

- `SecurityHeaders`: a strict Content-Security-Policy (no inline script or style) and the
  other security headers on every answer, unless the endpoint chose its own.
- `SessionCookie`: the signed session cookie read into the request's `View` (a new token when
  there is none); when the answer starts, the session row keeps the last store, the pending
  messages and the last-seen time, and a new token is sent as the cookie.
- `ErrorPages`: a `PageProblem` or `StorageUnavailable` raised below is shown as the error page.
- `LoginRequired`: the session's account, its pending messages and last store; a page that
  is not public needs an account (else the login page) and reads its stores and roles.
- `CsrfCheck`: a form sent with an unsafe method carries the session's CSRF token.
- `StoreAccess`: on a store's pages the account needs a grant on the store (else 404) and a
  role: the page's, else viewer to read (GET) and admin to act.

Each reads the page's requirements from its route (`dashboard.mount.Page`)."""

from __future__ import annotations

import http.cookies
from typing import Any
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopevents.dashboard import auth
from shopevents.dashboard.site import View, redirect, site
from shopevents.errors import PageProblem, StorageUnavailable
from shopevents.storage import accounts, stores
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TOUCH_EVERY_US = 60_000_000  # a session's last-seen time is written at most once a minute


def _view(scope: Scope) -> View:
    found = scope["state"]["view"]
    assert isinstance(found, View)
    return found


class _Layer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app


class SecurityHeaders(_Layer):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SessionCookie(_Layer):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        s = site(request)
        token = s.sessions.token_of(request.cookies.get(auth.COOKIE))
        v = View(s, request, token or auth.new_token())
        v.new_cookie = token is None
        scope.setdefault("state", {})["view"] = v

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                try:
                    await save(v)
                except StorageUnavailable:
                    pass
                if v.new_cookie:
                    MutableHeaders(scope=message).append("set-cookie", cookie(v))
            await send(message)

        await self.app(scope, receive, send_with_session)


async def save(v: View) -> None:
    """Keep the session row's last store, pending messages and last-seen time."""
    sid = v.sid
    if sid is None or not (v.changed or v.ctx.now_us() - v.last_seen > TOUCH_EVERY_US):
        return
    store_id = v.session.get("store")
    pending = list(v.session.get("flash") or [])
    await v.write(lambda c, now: accounts.touch_session(c, sid, now, store_id, pending))


def cookie(v: View) -> str:
    """The Set-Cookie value for the view's token: HttpOnly, SameSite=Lax, Secure on https."""
    sessions = v.site.sessions
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar[auth.COOKIE] = sessions.dump(v.token)
    morsel = jar[auth.COOKIE]
    morsel["max-age"] = sessions.max_age
    morsel["path"] = "/"
    if v.request.url.scheme == "https":
        morsel["secure"] = True
    morsel["httponly"] = True
    morsel["samesite"] = "lax"
    return jar.output(header="").strip()


class ErrorPages(_Layer):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_watched)
            return
        except PageProblem as exc:
            if started:
                raise
            status, title, message = exc.status, exc.title, exc.message
        except StorageUnavailable:
            if started:
                raise
            status, title = 503, "The database cannot be reached"
            message = "Try again in a moment."
        page = _view(scope).render("error.html", status, title=title, message=message, active="")
        await page(scope, receive, send)


class LoginRequired(_Layer):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        v = _view(scope)
        sid = auth.session_id(v.token)
        ctx = v.ctx
        found = await v.read(lambda c: accounts.load_session(c, sid, ctx.now_us()))
        if found is not None:
            v.sid = sid
            v.user = found["user"]
            v.session["store"] = found["store"]
            v.flash = list(found["flash"])
            v.changed = bool(v.flash)
            v.last_seen = found["lastSeenAt"]
        if not scope["route"].public:
            if v.user is None:
                await login_first(v.request)(scope, receive, send)
                return
            uid = v.user[0]

            def load(c: Conn) -> tuple[dict[str, str], list[StoreRecord]]:
                return accounts.roles_of(c, uid), stores.list_stores(c)

            v.roles, every = await v.read(load)
            v.store_count = len(every)
            v.stores = [s for s in every if s.id in v.roles]
        await self.app(scope, receive, send)


def login_first(request: Request) -> Response:
    """The answer to a request that needs a login: the login page (back here after it, for a
    page), a plain redirect for an action, 401 for a page's JSON."""
    url = request.url
    target = url.path + ("?" + url.query if url.query else "")
    if target.endswith(".json"):
        return JSONResponse({"error": "login required"}, status_code=401)
    if request.method != "GET":
        return redirect("/login")
    return redirect("/login?next=" + quote(target, safe=""))


class CsrfCheck(_Layer):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in SAFE_METHODS:
            v = _view(scope)
            v.form = await v.request.form()
            if not auth.csrf_ok(v.session["csrf"], v.field("csrf")):
                raise PageProblem(
                    403,
                    "This form has expired",
                    "The form's security token is missing or out of date (code csrf_failed). "
                    "Go back, reload the page and try again.",
                )
        await self.app(scope, receive, send)


class StoreAccess(_Layer):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page: Any = scope["route"]
        if page.store:
            v = _view(scope)
            store_id = scope["path_params"]["store_id"]
            v.store = next((s for s in v.stores if s.id == store_id), None)
            if v.store is None:
                raise PageProblem(404, "No such store", "There is no store with this id.")
            v.role = v.roles.get(store_id)
            needed = page.role or ("admin" if scope["method"] != "GET" else "viewer")
            if not v.can(needed):
                raise PageProblem(
                    403,
                    "Not allowed",
                    f"Your role on this store is {v.role}: this needs {needed} "
                    "(code role_required). Ask an owner of the store.",
                )
            if v.session.get("store") != store_id:
                v.session["store"] = store_id
                v.changed = True
        await self.app(scope, receive, send)
