"""The merchant dashboard: server-rendered pages under `/` (login required).

Pages read only through named queries (`storage.reads`, `dashboard.queries`, `reports`);
writes go through the group committer. Every page sends a strict Content-Security-Policy
(no inline script or style), Jinja autoescapes every value, and every form is CSRF-checked.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from shopevents.context import AppContext
from shopevents.dashboard import (
    accounts_page,
    auth,
    custom_events_page,
    debugger_page,
    format,
    overview_page,
    replay,
    views,
)
from shopevents.dashboard import queries as dq
from shopevents.dashboard import sources as sources_page
from shopevents.domain import identity, store_settings, timeline
from shopevents.errors import FieldError, PageProblem, StorageUnavailable
from shopevents.storage import accounts, reads, stores
from shopevents.storage.stores import StoreRecord
from shopevents.webhooks import deliveries as whd
from shopevents.webhooks import endpoints as whe

PAGE = 50
STATIC_PREFIX = "/static/dashboard"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
NAV = (
    ("overview", "Overview", ""),
    ("contacts", "Contacts", "contacts"),
    ("catalog", "Catalog", "catalog"),
    ("carts", "Carts", "carts"),
    ("purchases", "Purchases", "purchases"),
    ("sources", "Sources", "sources"),
    ("debugger", "Integration", "debugger"),
    ("quarantine", "Quarantine", "quarantine"),
    ("webhooks", "Webhooks", "webhooks"),
    ("custom-events", "Custom events", "custom-events"),
    ("settings", "Settings", "settings"),
)
ACCOUNTS_NAV = ("accounts", "Accounts", "accounts")  # owners only
TOUCH_EVERY_US = 60_000_000  # a session's last-seen time is written at most once a minute


HttpProblem = PageProblem  # the catalog's page problem (errors.py): status, code, title, message


class View:
    """One dashboard request: its session, user, store (with the account's role) and form.

    `session` holds what the server-side session row keeps between requests (the last store
    opened, pending messages) and the request's CSRF token."""

    def __init__(self, request: Request, token: str, csrf: str) -> None:
        self.request = request
        self.token = token
        self.session: dict[str, Any] = {"csrf": csrf}
        self.sid: str | None = None  # the session row, when logged in
        self.changed = False
        self.new_cookie = False
        self.user: tuple[int, str, str] | None = None
        self.store: StoreRecord | None = None
        self.stores: list[StoreRecord] = []
        self.roles: dict[str, str] = {}
        self.role: str | None = None
        self.store_count = 0
        self.form: FormData | None = None
        self.flash: list[tuple[str, str]] = []

    def can(self, needed: str) -> bool:
        """The account's role on the open store is at least `needed`."""
        return accounts.at_least(self.role, needed)

    @property
    def q(self) -> Any:
        return self.request.query_params

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default

    def say(self, level: str, text: str) -> None:
        self.session.setdefault("flash", []).append((level, text))
        self.changed = True

    @property
    def base(self) -> str:
        assert self.store is not None
        return f"/stores/{quote(self.store.id, safe='')}"


def safe_url(value: Any) -> str | None:
    """An http(s) URL to link to, or None (no javascript:, data: or relative tricks)."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    return v if re.match(r"^https?://[^\s\"'<>]+$", v, re.I) else None


def _int(text: str | None, default: int, lo: int = 0, hi: int = 10**12) -> int:
    try:
        return min(max(int(text or default), lo), hi)
    except ValueError:
        return default


def routes(ctx: AppContext) -> list[BaseRoute]:
    env = Environment(
        loader=PackageLoader("shopevents.dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(format.FILTERS)
    env.filters["ago"] = lambda value: format.ago(value, ctx.clock.now())
    env.filters["safe_url"] = safe_url
    env.globals["activity_labels"] = views.ACTIVITY_LABELS
    env.globals["static"] = STATIC_PREFIX
    sessions = auth.sessions_for(ctx)
    throttle = auth.Throttle(ctx.clock)

    async def read(fn: Callable[[Any], Any]) -> Any:
        return await ctx.read(fn)

    async def write(fn: Callable[[Any, int], Any]) -> Any:
        return await ctx.write(fn)

    def render(v: View, name: str, status: int = 200, **data: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            v=v,
            user=v.user[1] if v.user else None,
            store=v.store,
            stores=v.stores,
            base=v.base if v.store else "",
            csrf=v.session.get("csrf", ""),
            flash=v.flash,
            nav=NAV + ((ACCOUNTS_NAV,) if v.can("owner") else ()),
            role=v.role,
            can_admin=v.can("admin"),
            path=v.request.url.path,
            tz=v.store.timezone if v.store else "UTC",
            cur=v.store.currency if v.store else "",
            **data,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    def finish(v: View, resp: Response) -> Response:
        if v.new_cookie:
            resp.set_cookie(
                auth.COOKIE,
                sessions.dump(v.token),
                max_age=sessions.max_age,
                httponly=True,
                samesite="lax",
                secure=v.request.url.scheme == "https",
                path="/",
            )
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    async def save(v: View, last_seen: int) -> None:
        """Keep the session row's last store, pending messages and last-seen time."""
        sid = v.sid
        if sid is None or not (v.changed or ctx.now_us() - last_seen > TOUCH_EVERY_US):
            return
        store_id = v.session.get("store")
        pending = list(v.session.get("flash") or [])
        await write(lambda c, now: accounts.touch_session(c, sid, now, store_id, pending))

    def start_session(v: View, token: str) -> None:
        """Use a new cookie token from now on (login, logout)."""
        v.token = token
        v.session["csrf"] = sessions.csrf(token)
        v.new_cookie = True

    Handler = Callable[[View], Awaitable[Response]]

    def page(
        handler: Handler,
        *,
        need_store: bool = True,
        public: bool = False,
        role: str | None = None,
    ) -> Any:
        """A dashboard endpoint. On a store's pages the account needs a grant on the store
        (else 404) and a role: `role`, else viewer to read (GET) and admin to act (POST)."""

        async def endpoint(request: Request) -> Response:
            token = sessions.token_of(request.cookies.get(auth.COOKIE))
            fresh = token is None
            token = token or auth.new_token()
            v = View(request, token, sessions.csrf(token))
            v.new_cookie = fresh
            sid = auth.session_id(token)
            last_seen = 0
            try:
                found = await read(lambda c: accounts.load_session(c, sid, ctx.now_us()))
                if found is not None:
                    v.sid = sid
                    v.user = found["user"]
                    v.session["store"] = found["store"]
                    v.flash = list(found["flash"])
                    v.changed = bool(v.flash)
                    last_seen = found["lastSeenAt"]
                if not public:
                    if v.user is None:
                        target = request.url.path + (
                            "?" + request.url.query if request.url.query else ""
                        )
                        if request.method != "GET" or target.endswith(".json"):
                            if target.endswith(".json"):
                                return finish(
                                    v, JSONResponse({"error": "login required"}, status_code=401)
                                )
                            return finish(v, redirect("/login"))
                        return finish(v, redirect("/login?next=" + quote(target, safe="")))
                    uid = v.user[0]

                    def load(c: Any) -> tuple[dict[str, str], list[StoreRecord]]:
                        return accounts.roles_of(c, uid), stores.list_stores(c)

                    v.roles, every = await read(load)
                    v.store_count = len(every)
                    v.stores = [s for s in every if s.id in v.roles]
                if request.method == "POST":
                    v.form = await request.form()
                    if not auth.csrf_ok(v.session["csrf"], v.field("csrf")):
                        raise HttpProblem(
                            403,
                            "This form has expired",
                            "The form's security token is missing or out of date (code csrf_failed). "
                            "Go back, reload the page and try again.",
                        )
                if need_store:
                    sid_ = request.path_params["store_id"]
                    v.store = next((s for s in v.stores if s.id == sid_), None)
                    if v.store is None:
                        raise HttpProblem(404, "No such store", "There is no store with this id.")
                    v.role = v.roles.get(sid_)
                    needed = role or ("admin" if request.method != "GET" else "viewer")
                    if not v.can(needed):
                        raise HttpProblem(
                            403,
                            "Not allowed",
                            f"Your role on this store is {v.role}: this needs {needed} "
                            "(code role_required). Ask an owner of the store.",
                        )
                    if v.session.get("store") != sid_:
                        v.session["store"] = sid_
                        v.changed = True
                resp = await handler(v)
            except HttpProblem as exc:
                resp = render(
                    v, "error.html", exc.status, title=exc.title, message=exc.message, active=""
                )
            except StorageUnavailable:
                resp = render(
                    v,
                    "error.html",
                    503,
                    title="The database cannot be reached",
                    message="Try again in a moment.",
                    active="",
                )
            try:
                await save(v, last_seen)
            except StorageUnavailable:
                pass
            return finish(v, resp)

        return endpoint

    # --- login -----------------------------------------------------------------------------

    def next_url(raw: str | None) -> str:
        if (
            raw
            and raw.startswith("/")
            and not raw.startswith("//")
            and "\\" not in raw
            and not any(ch.isspace() or ord(ch) < 32 for ch in raw)
        ):
            return raw
        return "/"

    async def login_page(v: View) -> Response:
        if v.user is not None:
            return redirect(next_url(v.q.get("next")))
        users = await read(auth.count_users)
        return render(
            v, "login.html", no_users=users == 0, next=next_url(v.q.get("next")), error=None
        )

    async def login_post(v: View) -> Response:
        username = v.field("username").strip()
        password = v.field("password")
        client = v.request.client.host if v.request.client else ""
        keys = (f"ip:{client}", f"user:{username.lower()}")
        nxt = next_url(v.field("next"))
        if throttle.blocked(*keys):
            return render(
                v,
                "login.html",
                429,
                no_users=False,
                next=nxt,
                error="Too many failed attempts. Wait a few minutes and try again.",
                username=username,
            )
        user = await read(lambda c: auth.check_password(c, username, password))
        if user is None:
            throttle.fail(*keys)
            users = await read(auth.count_users)
            return render(
                v,
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
        agent = v.request.headers.get("user-agent", "")
        life = sessions.max_age * 1_000_000

        def begin(c: Any, now: int) -> None:
            if old_sid is not None:
                accounts.end_session(c, old_sid)
            accounts.create_session(c, new_sid, user[0], now, now + life, agent)

        await write(begin)
        v.sid = None  # nothing left to save on the old row
        start_session(v, token)
        return redirect(nxt)

    async def logout(v: View) -> Response:
        sid = v.sid
        if sid is not None:
            await write(lambda c, now: accounts.end_session(c, sid))
        v.sid = None
        start_session(v, auth.new_token())
        return redirect("/login")

    # --- home and stores -----------------------------------------------------------------------

    def may_create_store(v: View) -> bool:
        """Owners create stores (and own them); so does anyone while there is no store."""
        return v.store_count == 0 or "owner" in v.roles.values()

    async def home(v: View) -> Response:
        if not v.stores:
            if not may_create_store(v):
                return render(v, "no_store.html", active="")
            return render(v, "welcome.html", active="", error=None, form={})
        last = v.session.get("store")
        target = next((s for s in v.stores if s.id == last), v.stores[0])
        return redirect(f"/stores/{quote(target.id, safe='')}/")

    async def create_store(v: View) -> Response:
        if not may_create_store(v):
            raise HttpProblem(
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
            error = setting_message(exc)
            return render(v, "welcome.html", 422, active="", error=error, form=form)

        def make(conn: Any, now: int) -> tuple[StoreRecord, tuple[str, str]]:
            rec = stores.create_store(
                conn,
                changes["name"],
                now=now,
                currency=changes["currency"],
                timezone=changes["timezone"],
            )
            accounts.grant(conn, uid, rec.id, "owner", now)
            return rec, stores.create_api_key(conn, rec.id, now=now, name="default")

        assert v.user is not None
        uid = v.user[0]
        rec, key = await write(make)
        v.roles[rec.id] = "owner"
        v.stores = [s for s in await read(stores.list_stores) if s.id in v.roles]
        v.store = rec
        v.role = "owner"
        v.session["store"] = rec.id
        v.changed = True
        v.flash.append(
            ("ok", f"Store “{rec.name}” created. Paste the loader snippet below into your shop.")
        )
        return await settings_page(v, new_key=key)

    async def switch_store(v: View) -> Response:
        sid = v.q.get("store") or ""
        sub = {key: path for key, _, path in NAV}.get(v.q.get("section") or "", "")
        if not any(s.id == sid for s in v.stores):
            return redirect("/")
        return redirect(f"/stores/{quote(sid, safe='')}/{sub}")

    # --- contacts ------------------------------------------------------------------------------

    async def contacts(v: View) -> Response:
        store = v.store
        assert store is not None
        text = (v.q.get("q") or "").strip()[:200]
        page_no = _int(v.q.get("page"), 1, 1, 20)
        rows = await read(
            lambda c: reads.search_contacts(c, store.id, text, limit=page_no * PAGE + 1)
        )
        more = len(rows) > page_no * PAGE
        rows = rows[(page_no - 1) * PAGE : page_no * PAGE]
        return render(
            v,
            "contacts.html",
            active="contacts",
            text=text,
            rows=rows,
            page_no=page_no,
            more=more,
            query=lambda **kw: _query(v.q, **kw),
        )

    async def contact(v: View) -> Response:
        store = v.store
        assert store is not None
        cid = v.request.path_params["contact_id"]
        found = await read(lambda c: reads.contact_by_id(c, store.id, cid))
        if found is None:
            raise HttpProblem(404, "No such contact", "This contact does not exist in this store.")
        before = None
        cursor = v.q.get("before")
        if cursor:
            before = timeline.parse_cursor(cursor)

        def load(c: Any) -> dict[str, Any]:
            return {
                "details": reads.contact_details(c, store.id, cid),
                "activity": timeline.page(c, store.id, cid, PAGE + 1, before),
                "carts": reads.list_carts(c, store.id, contact_id=cid, limit=20),
                "purchases": reads.list_purchases(c, store.id, contact_id=cid, limit=20),
                "merged_from": dq.merged_contacts(c, store.id, cid),
            }

        data = await read(load)
        items = data.pop("activity")
        more = len(items) > PAGE
        items = items[:PAGE]
        next_cursor = f"{items[-1]['_at']}-{items[-1]['id']}" if more and items else None
        fields = {
            k: val
            for k, val in found.items()
            if not k.startswith("_") and k not in ("id",) and not isinstance(val, dict | list)
        }
        std = {
            k: found.get(k)
            for k in (
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
            if found.get(k) is not None
        }
        return render(
            v,
            "contact.html",
            active="contacts",
            c=found,
            std=std,
            custom=fields,
            activity=items,
            next_cursor=next_cursor,
            **data,
        )

    async def undo_merge(v: View) -> Response:
        store = v.store
        assert store is not None
        raw = v.request.path_params["merge_id"]
        back = next_url(v.field("back")) if v.field("back") else f"{v.base}/contacts"
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise HttpProblem(404, "No such merge", "This merge does not exist.")
        ok = await write(lambda c, now: identity.unmerge(c, store.id, int(raw), now))
        if ok:
            v.say(
                "ok", f"Merge {raw} undone: the merged contact and what moved are separate again."
            )
        else:
            v.say(
                "error", f"Merge {raw} cannot be undone (it does not exist or was undone already)."
            )
        return redirect(back)

    # --- catalog -------------------------------------------------------------------------------

    async def catalog(v: View) -> Response:
        store = v.store
        assert store is not None
        text = (v.q.get("q") or "").strip()[:200]
        page_no = _int(v.q.get("page"), 1, 1, 10**6)
        rows = await read(
            lambda c: reads.search_products(
                c, store.id, text, limit=PAGE + 1, offset=(page_no - 1) * PAGE
            )
        )
        total = await read(lambda c: dq.count_products(c, store.id))
        return render(
            v,
            "catalog.html",
            active="catalog",
            text=text,
            rows=rows[:PAGE],
            more=len(rows) > PAGE,
            page_no=page_no,
            total=total,
            query=lambda **kw: _query(v.q, **kw),
        )

    async def product(v: View) -> Response:
        store = v.store
        assert store is not None
        pid = v.request.path_params["product_id"]
        found = await read(lambda c: reads.product_by_id(c, store.id, pid))
        if found is None:
            raise HttpProblem(404, "No such product", "This product is not in the catalog.")
        main = ("productId", "name", "unitPrice", "availability", "productDetailUrl")
        extra = {k: val for k, val in found.items() if k not in main}
        return render(v, "product.html", active="catalog", p=found, extra=extra)

    # --- carts ---------------------------------------------------------------------------------

    async def carts(v: View) -> Response:
        store = v.store
        assert store is not None
        state = v.q.get("state") or None
        if state not in reads.CART_STATES:
            state = None
        page_no = _int(v.q.get("page"), 1, 1, 10**6)
        rows = await read(
            lambda c: reads.list_carts(
                c, store.id, status=state, limit=PAGE + 1, offset=(page_no - 1) * PAGE
            )
        )
        counts = await read(lambda c: dq.cart_state_counts(c, store.id))
        return render(
            v,
            "carts.html",
            active="carts",
            state=state,
            states=reads.CART_STATES,
            counts=counts,
            rows=rows[:PAGE],
            more=len(rows) > PAGE,
            page_no=page_no,
            query=lambda **kw: _query(v.q, **kw),
        )

    async def cart(v: View) -> Response:
        store = v.store
        assert store is not None
        key = v.request.path_params["cart_key"]
        found = await read(lambda c: reads.cart_by_key(c, store.id, key))
        if found is None:
            raise HttpProblem(404, "No such cart", "This cart does not exist in this store.")
        return render(v, "cart.html", active="carts", k=found)

    # --- purchases -----------------------------------------------------------------------------

    async def purchases(v: View) -> Response:
        store = v.store
        assert store is not None
        text = (v.q.get("q") or "").strip()[:200]
        tab = "repeats" if v.q.get("view") == "repeats" else "all"
        page_no = _int(v.q.get("page"), 1, 1, 10**6)
        if tab == "repeats":
            rows = await read(lambda c: dq.purchase_repeats(c, store.id, limit=100))
            conflicts = await read(lambda c: reads.purchases_with_conflicts(c, store.id, 50))
            return render(
                v,
                "purchases.html",
                active="purchases",
                tab=tab,
                text=text,
                repeats=rows,
                conflicts=conflicts,
                rows=[],
                more=False,
                page_no=1,
                total=None,
                query=lambda **kw: _query(v.q, **kw),
            )
        if text and page_no == 1:
            exact = await read(lambda c: reads.purchase_by_id(c, store.id, text))
            if exact is not None:
                return redirect(f"{v.base}/purchases/{quote(text, safe='')}")
        rows = await read(
            lambda c: reads.list_purchases(
                c, store.id, search=text or None, limit=PAGE + 1, offset=(page_no - 1) * PAGE
            )
        )
        total = None if text else await read(lambda c: dq.count_purchases(c, store.id))
        return render(
            v,
            "purchases.html",
            active="purchases",
            tab=tab,
            text=text,
            rows=rows[:PAGE],
            more=len(rows) > PAGE,
            page_no=page_no,
            total=total,
            query=lambda **kw: _query(v.q, **kw),
        )

    async def purchase(v: View) -> Response:
        store = v.store
        assert store is not None
        pid = v.request.path_params["purchase_id"]
        found = await read(lambda c: reads.purchase_by_id(c, store.id, pid))
        if found is None:
            raise HttpProblem(
                404, "No such purchase", f"No purchase has the id {pid!r} in this store."
            )
        repeats = await read(lambda c: dq.purchase_repeats(c, store.id, pid, limit=100))
        versions = [
            {
                "label": "Counted (first received)",
                "receivedAt": found["createdAt"],
                "channel": found["channel"],
                "totalPrice": found["totalPrice"],
                "totalQuantity": found["totalQuantity"],
                "currency": found["currency"],
                "paymentMethod": found["paymentMethod"],
                "products": found["products"],
            }
        ]
        for i, conf in enumerate(found["conflicts"], 1):
            d = conf["data"] or {}
            versions.append(
                {
                    "label": f"Conflict {i} (not counted)",
                    "receivedAt": conf["receivedAt"],
                    "channel": conf["channel"],
                    "totalPrice": d.get("totalPrice"),
                    "totalQuantity": d.get("totalQuantity"),
                    "currency": d.get("currency") or found["currency"],
                    "paymentMethod": d.get("paymentMethod"),
                    "products": d.get("products") or [],
                }
            )
        return render(
            v,
            "purchase.html",
            active="purchases",
            p=found,
            versions=versions,
            repeats=repeats,
            duplicates=sum(1 for r in repeats if r["status"] == "duplicate"),
        )

    async def purchase_adjust(v: View) -> Response:
        """The refund and cancel forms of the purchase page (confirmed in the browser)."""
        from decimal import Decimal

        from shopevents.api.adjustments_routes import (
            parse_cancellation,
            parse_refund,
            write_adjustment,
        )
        from shopevents.clock import to_micros
        from shopevents.errors import ApiError

        store = v.store
        assert store is not None
        pid = v.request.path_params["purchase_id"]
        back = f"{v.base}/purchases/{quote(pid, safe='')}"
        now = to_micros(ctx.clock.now())
        try:
            if v.field("action") == "cancel":
                a = parse_cancellation({"reason": v.field("reason") or None}, pid, now)
            else:
                body: dict[str, Any] = {
                    "refundId": v.field("refund_id") or f"dashboard-{now}",
                    "reason": v.field("reason") or None,
                }
                if v.field("product"):
                    qty = v.field("quantity") or "1"
                    body["lines"] = [
                        {
                            "productId": v.field("product"),
                            "quantity": int(qty) if qty.isdigit() else 0,
                        }
                    ]
                else:
                    try:
                        body["amount"] = Decimal(v.field("amount") or "0")
                    except ArithmeticError:
                        body["amount"] = Decimal(0)
                a = parse_refund(body, pid, now)
        except ApiError as exc:
            v.say("error", str(exc))
            return redirect(back)
        status, details = await write(write_adjustment(store.id, a, "dashboard"))
        what = "Cancellation" if a.kind == "cancellation" else f"Refund {a.adjustment_id}"
        if status == "refused":
            v.say("error", f"{what} refused: {details}")
        elif status == "conflict":
            v.say("error", f"{what}: already recorded with another content; not applied.")
        elif status == "duplicate":
            v.say("info", f"{what} was already recorded; nothing changed.")
        else:
            v.say(
                "ok", f"{what} recorded: {details.get('amount')} {details['purchase']['currency']}."
            )
        return redirect(back)

    # --- quarantine ----------------------------------------------------------------------------

    async def quarantine(v: View) -> Response:
        store = v.store
        assert store is not None
        code = v.q.get("code") or None
        status = "all" if v.q.get("status") == "all" else "pending"
        page_no = _int(v.q.get("page"), 1, 1, 10**6)

        def load(c: Any) -> dict[str, Any]:
            return {
                "rows": reads.quarantine(
                    c,
                    store.id,
                    code=code,
                    pending_only=status == "pending",
                    limit=PAGE + 1,
                    offset=(page_no - 1) * PAGE,
                ),
                "codes": dq.quarantine_codes(c, store.id),
                "count": dq.quarantine_count(
                    c, store.id, code=code, pending_only=status == "pending"
                ),
            }

        data = await read(load)
        return render(
            v,
            "quarantine.html",
            active="quarantine",
            code=code,
            show=status,
            rows=data["rows"][:PAGE],
            more=len(data["rows"]) > PAGE,
            page_no=page_no,
            codes=data["codes"],
            count=data["count"],
            query=lambda **kw: _query(v.q, **kw),
        )

    async def quarantine_replay(v: View) -> Response:
        store = v.store
        assert store is not None
        assert v.form is not None
        max_bytes = ctx.settings.ingest.max_event_bytes
        if v.field("all"):
            code = v.field("code") or None
            ids = await read(lambda c: replay.pending_ids(c, store.id, code=code, limit=1000))
        else:
            ids = [
                int(x)
                for x in v.form.getlist("id")
                if isinstance(x, str) and (x.isascii() and x.isdigit())
            ][:1000]
        results: list[dict[str, Any]] = []

        def replayer(chunk: list[int]) -> Callable[[Any, int], list[dict[str, Any]]]:
            def run(conn: Any, now: int) -> list[dict[str, Any]]:
                return replay.replay_many(conn, store, chunk, now, max_event_bytes=max_bytes)

            return run

        for i in range(0, len(ids), 50):
            results += await write(replayer(ids[i : i + 50]))
        if not results:
            v.say("info", "Nothing to replay: select events, or pick a code with pending events.")
        else:
            v.say(*replay_summary(results))
        back = f"{v.base}/quarantine"
        if v.field("back_query"):
            back += "?" + v.field("back_query")
        return redirect(back)

    # --- settings ------------------------------------------------------------------------------

    def public_base(v: View) -> str:
        if ctx.settings.public_url:
            return ctx.settings.public_url.rstrip("/")
        return str(v.request.base_url).rstrip("/")

    async def settings_page(
        v: View,
        *,
        new_key: tuple[str, str] | None = None,
        error: str | None = None,
        form: dict[str, Any] | None = None,
        status: int = 200,
        webhook_error: str | None = None,
        new_webhook: tuple[str, str] | None = None,
        new_write_key: tuple[str, str] | None = None,
    ) -> Response:
        store = v.store
        assert store is not None
        from shopevents.client.snippet import loader_snippet

        keys: list[Any] = []
        write_keys: list[Any] = []
        hooks = None
        if v.can("admin"):  # a viewer sees no keys and no webhook settings
            keys = await read(lambda c: stores.list_api_keys(c, store.id))
            write_keys = await read(lambda c: stores.list_write_keys(c, store.id))
            hooks = await webhook_endpoints(store.id)
        resp = render(
            v,
            "settings.html",
            status,
            active="settings",
            keys=keys,
            new_key=new_key,
            error=error,
            form=form or settings_form(store),
            snippet=loader_snippet(store.id, public_base(v)),
            ingest_url=f"{public_base(v)}/integration-type/system/scrippet-notification/{store.id}",
            timezones=_timezones(),
            webhooks=hooks,
            webhook_error=webhook_error,
            new_webhook=new_webhook,
            write_keys=write_keys,
            new_write_key=new_write_key,
            segment_url=public_base(v),
        )
        if new_key or new_webhook or new_write_key:
            resp.headers["Cache-Control"] = "no-store"
        return resp

    async def settings_get(v: View) -> Response:
        return await settings_page(v)

    async def settings_post(v: View) -> Response:
        store = v.store
        assert store is not None
        form: dict[str, Any] = {
            "name": v.field("name"),
            "currency": v.field("currency"),
            "timezone": v.field("timezone"),
            "domains": v.field("domains"),
            "abandon_after": v.field("abandon_after"),
            "tag_mode": bool(v.field("tag_mode")),
            "tracking_enabled": bool(v.field("tracking_enabled")),
            "excluded_paths": v.field("excluded_paths"),
            "consent_required": bool(v.field("consent_required")),
            "honour_gpc": bool(v.field("honour_gpc")),
            "keep_bots": bool(v.field("keep_bots")),
        }
        try:  # the rules of domain/store_settings.py, as the CLI and the REST API
            changes = store_settings.parse_changes(
                {
                    "name": form["name"],
                    "currency": form["currency"],
                    "timezone": form["timezone"],
                    "domains": _lines(form["domains"]),
                    "abandonAfterSeconds": form["abandon_after"],
                    "tagMode": form["tag_mode"],
                    "trackingEnabled": form["tracking_enabled"],
                    "excludedPaths": _lines(form["excluded_paths"]),
                    "consentRequired": form["consent_required"],
                    "honourGpc": form["honour_gpc"],
                    "keepBots": form["keep_bots"],
                }
            )
        except store_settings.SettingError as exc:
            error = setting_message(exc)
            return await settings_page(v, error=error, form=form, status=422)
        await write(lambda c, now: stores.update_store(c, store.id, changes))
        ctx.forget_store(store.id)
        v.say("ok", "Settings saved.")
        return redirect(f"{v.base}/settings")

    async def key_create(v: View) -> Response:
        store = v.store
        assert store is not None
        name = v.field("name").strip()[:100] or "default"
        key = await write(lambda c, now: stores.create_api_key(c, store.id, now=now, name=name))
        v.flash.append(
            ("ok", f"API key “{name}” created. Copy the secret now: it is not shown again.")
        )
        return await settings_page(v, new_key=key)

    async def key_revoke(v: View) -> Response:
        store = v.store
        assert store is not None
        kid = v.request.path_params["key_id"]
        ok = await write(lambda c, now: stores.revoke_api_key(c, store.id, kid, now=now))
        v.say("ok" if ok else "error", f"API key {kid} revoked." if ok else f"No active key {kid}.")
        return redirect(f"{v.base}/settings#keys")

    async def write_key_create(v: View) -> Response:
        store = v.store
        assert store is not None
        name = v.field("name").strip()[:100] or "default"
        key = await write(lambda c, now: stores.create_write_key(c, store.id, now=now, name=name))
        v.flash.append(("ok", f"Write key “{name}” created. Copy it now: it is not shown again."))
        return await settings_page(v, new_write_key=key)

    async def write_key_revoke(v: View) -> Response:
        store = v.store
        assert store is not None
        kid = v.request.path_params["key_id"]
        ok = await write(lambda c, now: stores.revoke_write_key(c, store.id, kid, now=now))
        v.say(
            "ok" if ok else "error",
            f"Write key {kid} revoked." if ok else f"No active write key {kid}.",
        )
        return redirect(f"{v.base}/settings#write-keys")

    # --- webhooks (the shopevents.webhooks module's endpoints) -------------------------------------

    async def webhook_endpoints(store_id: str) -> dict[str, Any] | None:
        try:
            from shopevents.domain.outbox import TOPICS
            from shopevents.webhooks import endpoints as wh
        except ImportError:
            return None
        rows = await read(lambda c: wh.list_endpoints(c, store_id, ctx.now_us()))
        return {"endpoints": rows, "topics": TOPICS}

    async def webhook_create(v: View) -> Response:
        from shopevents.webhooks import endpoints as wh

        store = v.store
        assert store is not None and v.form is not None
        topics = [t for t in v.form.getlist("topics") if isinstance(t, str)]
        url, description = v.field("url"), v.field("description")
        allow = ctx.settings.webhooks.allow_private_addresses
        try:
            wh.validate(url, topics, description, allow_private=allow)
        except ValueError as exc:
            issues = getattr(exc, "errors", None) or [exc]
            text = "; ".join(str(getattr(e, "message", e)) for e in issues)
            return await settings_page(v, webhook_error=text, status=422)
        limit = ctx.settings.webhooks.max_endpoints_per_store

        def create(c: Any, now: int) -> Any:
            try:
                return wh.create_endpoint(
                    c,
                    store.id,
                    url,
                    topics,
                    now,
                    description=description,
                    allow_private=allow,
                    max_endpoints=limit,
                )
            except wh.EndpointLimitError as exc:
                return exc  # nothing was written; the shared transaction stays intact

        created = await write(create)
        if isinstance(created, wh.EndpointLimitError):
            return await settings_page(v, webhook_error=created.message, status=409)
        endpoint, secret = created
        v.flash.append(
            ("ok", f"Webhook endpoint {endpoint.id} created. Copy its signing secret now.")
        )
        return await settings_page(v, new_webhook=(endpoint.id, secret))

    async def webhook_change(v: View) -> Response:
        from shopevents.webhooks import endpoints as wh

        store = v.store
        assert store is not None
        eid = v.request.path_params["endpoint_id"]
        action = v.field("action")
        if action == "remove":
            ok = await write(lambda c, now: wh.remove_endpoint(c, eid, store.id))
            v.say(
                "ok" if ok else "error", f"Endpoint {eid} removed." if ok else f"No endpoint {eid}."
            )
        elif action in ("pause", "resume"):
            ok = await write(
                lambda c, now: wh.set_enabled(c, eid, action == "resume", now, store.id)
            )
            v.say(
                "ok" if ok else "error",
                f"Endpoint {eid} {'resumed' if action == 'resume' else 'paused'}."
                if ok
                else f"No endpoint {eid}.",
            )
        return redirect(f"{v.base}/settings#webhooks")

    # --- webhook deliveries: the log per endpoint, dead letters and replay --------------------

    async def endpoint_of(v: View) -> whe.Endpoint:
        store = v.store
        assert store is not None
        eid = v.request.path_params["endpoint_id"]
        found = await read(lambda c: whe.get_endpoint(c, eid, store.id))
        if found is None:
            raise HttpProblem(404, "No such endpoint", "This webhook endpoint does not exist.")
        return found

    async def webhooks_page(v: View) -> Response:
        store = v.store
        assert store is not None
        rows = await read(lambda c: whe.list_endpoints(c, store.id, ctx.now_us()))
        return render(v, "webhooks.html", active="webhooks", endpoints=rows)

    async def webhook_endpoint_page(v: View) -> Response:
        store = v.store
        assert store is not None
        endpoint = await endpoint_of(v)
        status = v.q.get("status") or None
        if status not in whd.STATUSES:
            status = None
        page_no = _int(v.q.get("page"), 1, 1, 10**6)
        now = ctx.now_us()

        def load(c: Any) -> dict[str, Any]:
            return {
                "rows": whd.list_deliveries(
                    c,
                    store.id,
                    endpoint.id,
                    status,
                    limit=PAGE + 1,
                    offset=(page_no - 1) * PAGE,
                    now=now,
                ),
                "stats": whe.endpoint_stats(c, [endpoint.id], now)[endpoint.id],
            }

        data = await read(load)
        return render(
            v,
            "webhook_endpoint.html",
            active="webhooks",
            e=whe.endpoint_view(endpoint, data["stats"]),
            show=status,
            statuses=whd.STATUSES,
            total=sum(data["stats"][s] for s in whd.STATUSES),
            rows=data["rows"][:PAGE],
            more=len(data["rows"]) > PAGE,
            page_no=page_no,
            query=lambda **kw: _query(v.q, **kw),
        )

    async def webhook_delivery_page(v: View) -> Response:
        store = v.store
        assert store is not None
        endpoint = await endpoint_of(v)
        did = v.request.path_params["delivery_id"]
        found = await read(lambda c: whd.get_delivery(c, did, store.id, ctx.now_us()))
        if found is None or found["endpointId"] != endpoint.id:
            raise HttpProblem(404, "No such delivery", "This delivery does not exist.")
        return render(
            v, "webhook_delivery.html", active="webhooks", e=whe.endpoint_view(endpoint), d=found
        )

    def webhook_back(v: View, endpoint_id: str) -> str:
        own = f"{v.base}/webhooks/{quote(endpoint_id, safe='')}"
        back = next_url(v.field("back"))
        return (
            back if back == own or back.startswith(own + "?") or back.startswith(own + "/") else own
        )

    async def webhook_replay(v: View) -> Response:
        store = v.store
        assert store is not None
        endpoint = await endpoint_of(v)
        did = v.request.path_params["delivery_id"]

        def run(c: Any, now: int) -> str | None:
            if dq.delivery_endpoint(c, store.id, did) != endpoint.id:
                return None
            return whd.replay(c, did, now, store.id)

        before = await write(run)
        if before is None:
            v.say("error", f"No delivery {did} for this endpoint.")
        elif before in ("failed", "dead"):
            v.say("ok", f"Delivery {did} ({before}) is queued again: it is pending, due now.")
        else:
            v.say("info", f"Delivery {did} is {before}; only failed or dead ones are replayed.")
        return redirect(webhook_back(v, endpoint.id))

    async def webhook_replay_dead(v: View) -> Response:
        store = v.store
        assert store is not None
        endpoint = await endpoint_of(v)
        n = await write(
            lambda c, now: whd.replay_all(
                c, store.id, now, statuses=("dead",), endpoint_id=endpoint.id
            )
        )
        if n:
            v.say("ok", f"{n} dead deliver{'y is' if n == 1 else 'ies are'} queued again.")
        else:
            v.say("info", "No dead deliveries to replay for this endpoint.")
        return redirect(webhook_back(v, endpoint.id))

    static_dir = str(resources.files("shopevents.dashboard") / "static")

    def favicon(name: str, media_type: str) -> Callable[[Request], Awaitable[Response]]:
        """The site icon at the root, where browsers ask for it (every page links it too)."""
        data = (resources.files("shopevents.dashboard") / "static" / name).read_bytes()

        async def endpoint(request: Request) -> Response:
            return Response(
                data, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
            )

        return endpoint

    R = Route
    S = "/stores/{store_id}"
    from shopevents.dashboard import erasure_page, imports_page

    return [
        R("/", page(home, need_store=False), methods=["GET"]),
        R("/login", page(login_page, need_store=False, public=True), methods=["GET"]),
        R("/login", page(login_post, need_store=False, public=True), methods=["POST"]),
        R("/logout", page(logout, need_store=False, public=True), methods=["POST"]),
        R("/stores", page(create_store, need_store=False), methods=["POST"]),
        R("/switch-store", page(switch_store, need_store=False), methods=["GET"]),
        R(S, lambda r: RedirectResponse(r.url.path + "/", status_code=307), methods=["GET"]),
        *overview_page.routes(ctx, S, page, render, read, _message, _query),
        R(S + "/contacts", page(contacts), methods=["GET"]),
        R(S + "/contacts/{contact_id}", page(contact), methods=["GET"]),
        R(S + "/merges/{merge_id}/undo", page(undo_merge), methods=["POST"]),
        R(S + "/catalog", page(catalog), methods=["GET"]),
        R(S + "/catalog/{product_id:path}", page(product), methods=["GET"]),
        R(S + "/carts", page(carts), methods=["GET"]),
        R(S + "/carts/{cart_key}", page(cart), methods=["GET"]),
        R(S + "/purchases", page(purchases), methods=["GET"]),
        R(S + "/sources", page(sources_page.page(ctx, render, read)), methods=["GET"]),
        R(S + "/purchases/{purchase_id:path}", page(purchase), methods=["GET"]),
        R(S + "/purchases/{purchase_id:path}/adjust", page(purchase_adjust), methods=["POST"]),
        *debugger_page.routes(ctx, S, page, render, read, public_base, HttpProblem, _query),
        R(S + "/quarantine", page(quarantine), methods=["GET"]),
        R(S + "/quarantine/replay", page(quarantine_replay), methods=["POST"]),
        R(S + "/settings", page(settings_get), methods=["GET"]),
        R(S + "/settings", page(settings_post), methods=["POST"]),
        R(S + "/keys", page(key_create), methods=["POST"]),
        R(S + "/keys/{key_id}/revoke", page(key_revoke), methods=["POST"]),
        R(S + "/write-keys", page(write_key_create), methods=["POST"]),
        R(S + "/write-keys/{key_id}/revoke", page(write_key_revoke), methods=["POST"]),
        R(S + "/webhooks", page(webhooks_page), methods=["GET"]),
        R(S + "/webhooks", page(webhook_create), methods=["POST"]),
        R(S + "/webhooks/{endpoint_id}", page(webhook_endpoint_page), methods=["GET"]),
        R(S + "/webhooks/{endpoint_id}", page(webhook_change), methods=["POST"]),
        R(S + "/webhooks/{endpoint_id}/replay-dead", page(webhook_replay_dead), methods=["POST"]),
        R(
            S + "/webhooks/{endpoint_id}/deliveries/{delivery_id}",
            page(webhook_delivery_page),
            methods=["GET"],
        ),
        R(
            S + "/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
            page(webhook_replay),
            methods=["POST"],
        ),
        R("/favicon.ico", favicon("favicon.ico", "image/x-icon"), methods=["GET", "HEAD"]),
        R("/favicon.svg", favicon("favicon.svg", "image/svg+xml"), methods=["GET", "HEAD"]),
        *custom_events_page.routes(ctx, S, page, render, read, write, redirect),
        *imports_page.routes(ctx, S, page, render, read),
        *erasure_page.routes(ctx, S, page, redirect, read, write),
        *accounts_page.routes(ctx, S, page, render, read, write, redirect),
        Mount(STATIC_PREFIX, app=StaticFiles(directory=static_dir), name="dashboard-static"),
    ]


# --- helpers --------------------------------------------------------------------------------


def replay_summary(results: list[dict[str, Any]]) -> tuple[str, str]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    parts = []
    names = {
        "accepted": "replayed and accepted",
        "duplicate": "replayed as duplicates",
        "conflict": "replayed as conflicts",
        "rejected": "still rejected (their errors are updated)",
        "already": "replayed before",
        "missing": "not found",
    }
    for key in ("accepted", "duplicate", "conflict", "rejected", "already", "missing"):
        if counts.get(key):
            parts.append(f"{counts[key]} {names[key]}")
    level = "ok" if counts.get("accepted") and not counts.get("rejected") else "info"
    return level, "Replay: " + ", ".join(parts) + "."


def setting_message(exc: store_settings.SettingError) -> str:
    """A refused store setting as the settings form shows it: its label, then the rule's
    message (the CLI and the REST API show the same message)."""
    return f"{store_settings.SETTINGS[exc.name].label}: {exc.message}"


def settings_form(store: StoreRecord) -> dict[str, Any]:
    return {
        "name": store.name,
        "currency": store.currency,
        "timezone": store.timezone,
        "domains": "\n".join(store.domains),
        "abandon_after": format.duration(store.abandon_after_seconds).replace(" ", ""),
        "tag_mode": store.tag_mode,
        "tracking_enabled": store.tracking_enabled,
        "excluded_paths": "\n".join(store.excluded_paths),
        "consent_required": store.consent_required,
        "honour_gpc": store.honour_gpc,
        "keep_bots": store.keep_bots,
    }


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in (text or "").replace(",", "\n").splitlines() if ln.strip()]


def _message(exc: ValueError) -> str:
    """A refused report parameter as the page shows it: the field's label, then the rule's
    message (read from the `FieldError`; any other ValueError as it is)."""
    if not isinstance(exc, FieldError):
        return str(exc)
    names = {
        "abandonAfterSeconds": "Abandonment delay",
        "timezone": "Time zone",
        "currency": "Currency",
        "name": "Name",
        "domains": "Authorised domains",
        "excludedPaths": "Pages not tracked",
        "from": "From",
        "to": "To",
        "interval": "Interval",
        "groupBy": "Split",
    }
    return f"{names.get(exc.field, exc.field)}: {exc.message}"


def _query(params: Any, **changes: Any) -> str:
    data = {k: val for k, val in params.items()}
    for k, val in changes.items():
        if val is None:
            data.pop(k, None)
        else:
            data[k] = str(val)
    return "?" + urlencode(data) if data else "?"


_TZ_CACHE: list[str] = []


def _timezones() -> list[str]:
    if not _TZ_CACHE:
        from zoneinfo import available_timezones

        _TZ_CACHE.extend(sorted(available_timezones()))
    return _TZ_CACHE


__all__ = ["Markup", "routes"]
