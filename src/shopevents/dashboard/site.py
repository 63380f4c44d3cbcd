"""The dashboard's runtime and one request's view of it.

`Site` is built once per app and kept in the app's state (`app.state.dashboard`): the
runtime (`AppContext`), the Jinja environment, the session cookie's signer and the login
throttle. `View` is one request: its session, account, store and form, set up by the
dashboard's middleware (`dashboard.middleware`) before a page's endpoint runs. An endpoint
takes the Starlette `Request` and reaches both through `view(request)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData, QueryParams
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shopevents.context import AppContext
from shopevents.dashboard import auth, format, views
from shopevents.dashboard.params import safe_url
from shopevents.errors import PageProblem
from shopevents.storage import accounts
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

T = TypeVar("T")

STATIC_PREFIX = "/static/dashboard"
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


class Site:
    """What every dashboard request shares, built once per app."""

    def __init__(self, ctx: AppContext) -> None:
        cfg = ctx.settings.dashboard
        self.ctx = ctx
        self.templates = templates(ctx)
        self.sessions = auth.Sessions(cfg.secret_key, cfg.session_max_age_seconds, ctx.clock)
        self.throttle = auth.Throttle(ctx.clock)


def templates(ctx: AppContext) -> Environment:
    """The pages' Jinja environment: every value autoescaped, the dashboard's filters."""
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
    return env


def site(conn: HTTPConnection) -> Site:
    """The dashboard's runtime of the app serving `conn`."""
    found = conn.app.state.dashboard
    assert isinstance(found, Site)
    return found


def view(request: Request) -> View:
    """The request's view, set up by the dashboard's middleware."""
    found = request.scope["state"]["view"]
    assert isinstance(found, View)
    return found


def store_view(request: Request) -> tuple[View, StoreRecord]:
    """The request's view and its store, on a store's page."""
    v = view(request)
    return v, v.open_store


class View:
    """One dashboard request: its session, user, store (with the account's role) and form.

    `session` holds what the server-side session row keeps between requests (the last store
    opened, pending messages) and the request's CSRF token."""

    def __init__(self, site: Site, request: Request, token: str) -> None:
        self.site = site
        self.request = request
        self.token = token
        self.session: dict[str, Any] = {"csrf": site.sessions.csrf(token)}
        self.sid: str | None = None  # the session row, when logged in
        self.last_seen = 0  # when the session row was last written (µs)
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

    @property
    def ctx(self) -> AppContext:
        return self.site.ctx

    def can(self, needed: str) -> bool:
        """The account's role on the open store is at least `needed`."""
        return accounts.at_least(self.role, needed)

    @property
    def q(self) -> QueryParams:
        return self.request.query_params

    def field(self, name: str, default: str = "") -> str:
        """A text field of the form, without NUL (U+0000) characters (no text is stored with
        them: the ingest endpoint removes them too)."""
        value = self.form.get(name) if self.form is not None else None
        return value.replace("\x00", "") if isinstance(value, str) else default

    def say(self, level: str, text: str) -> None:
        """A message for the next page shown (kept in the session row)."""
        self.session.setdefault("flash", []).append((level, text))
        self.changed = True

    def say_outcome(self, ok: bool, done: str, missing: str) -> None:
        """`done` when the action found what it acts on, else `missing` (as an error)."""
        self.say("ok" if ok else "error", done if ok else missing)

    @property
    def open_store(self) -> StoreRecord:
        """The store of a store's page."""
        assert self.store is not None
        return self.store

    async def find(self, fn: Callable[[Conn], T | None], title: str, message: str) -> T:
        """What `fn` reads, or the error page `404 title` when it finds nothing."""
        found = await self.read(fn)
        if found is None:
            raise PageProblem(404, title, message)
        return found

    @property
    def base(self) -> str:
        assert self.store is not None
        return f"/stores/{quote(self.store.id, safe='')}"

    @property
    def public_base(self) -> str:
        """The server's address as a shop reaches it (`public_url`, else this request's)."""
        if self.ctx.settings.public_url:
            return self.ctx.settings.public_url.rstrip("/")
        return str(self.request.base_url).rstrip("/")

    def start_session(self, token: str) -> None:
        """Use a new cookie token from now on (login, logout)."""
        self.token = token
        self.session["csrf"] = self.site.sessions.csrf(token)
        self.new_cookie = True

    async def read(self, fn: Callable[[Conn], T]) -> T:
        return await self.ctx.read(fn)

    async def write(self, fn: Callable[[Conn, int], T]) -> T:
        return await self.ctx.write(fn)

    def render(self, name: str, status: int = 200, **data: Any) -> HTMLResponse:
        """The template `name` with the layout's values (account, store, navigation)."""
        html = self.site.templates.get_template(name).render(
            v=self,
            user=self.user[1] if self.user else None,
            store=self.store,
            stores=self.stores,
            base=self.base if self.store else "",
            csrf=self.session.get("csrf", ""),
            flash=self.flash,
            nav=NAV + ((ACCOUNTS_NAV,) if self.can("owner") else ()),
            role=self.role,
            can_admin=self.can("admin"),
            path=self.request.url.path,
            tz=self.store.timezone if self.store else "UTC",
            cur=self.store.currency if self.store else "",
            **data,
        )
        return HTMLResponse(html, status_code=status)


def redirect(url: str) -> Response:
    """See other: where a form's action leads (303)."""
    return RedirectResponse(url, status_code=303)
