"""The merchant dashboard's route table: server-rendered pages under `/` (login required).

Each page is an endpoint in a module of its own (`*_page.py`) and takes the request; the
dashboard's middleware (`dashboard.middleware`: security headers, session, login, CSRF,
store access) runs before it, on the pages' sub-application (`dashboard.mount.Pages`).
Pages read only through named queries (`storage.reads`, `dashboard.queries`, `reports`);
writes go through the group committer. Every page sends a strict Content-Security-Policy
(no inline script or style), Jinja autoescapes every value, and every form is CSRF-checked.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from shopevents.context import AppContext
from shopevents.dashboard import (
    accounts_page,
    carts_page,
    catalog_page,
    contacts_page,
    custom_events_page,
    debugger_page,
    erasure_page,
    imports_page,
    login_page,
    overview_page,
    purchases_page,
    quarantine_page,
    settings_page,
    sources_page,
    stores_page,
    webhooks_page,
)
from shopevents.dashboard.assets import Favicon, static_files
from shopevents.dashboard.middleware import (
    CsrfCheck,
    ErrorPages,
    LoginRequired,
    SecurityHeaders,
    SessionCookie,
    StoreAccess,
)
from shopevents.dashboard.mount import Page, Pages
from shopevents.dashboard.replay import replay_summary

S = "/stores/{store_id}"
W = S + "/webhooks/{endpoint_id}"
MIDDLEWARE = [
    Middleware(SecurityHeaders),
    Middleware(SessionCookie),
    Middleware(ErrorPages),
    Middleware(LoginRequired),
    Middleware(CsrfCheck),
    Middleware(StoreAccess),
]


def routes(ctx: AppContext) -> list[BaseRoute]:
    """The dashboard's routes. Its pages reach the app's runtime through the request
    (`dashboard.site`), not through `ctx`."""
    pages = [
        Page("/", stores_page.home, store=False),
        Page("/login", login_page.login_form, store=False, public=True),
        Page("/login", login_page.login, "POST", store=False, public=True),
        Page("/logout", login_page.logout, "POST", store=False, public=True),
        Page("/stores", stores_page.create_store, "POST", store=False),
        Page("/switch-store", stores_page.switch_store, store=False),
        Page("/account/sessions", accounts_page.sessions, store=False),
        Page("/account/sessions/revoke-others", accounts_page.revoke_others, "POST", store=False),
        Page(
            "/account/sessions/{session_id}/revoke",
            accounts_page.session_revoke,
            "POST",
            store=False,
        ),
        Page(S + "/", overview_page.overview),
        Page(S + "/contacts", contacts_page.contacts),
        Page(S + "/contacts/{contact_id}", contacts_page.contact),
        Page(S + "/contacts/{contact_id}/erase", erasure_page.erase, "POST"),
        Page(S + "/merges/{merge_id}/undo", contacts_page.undo_merge, "POST"),
        Page(S + "/catalog", catalog_page.catalog),
        Page(S + "/catalog/{product_id:path}", catalog_page.product),
        Page(S + "/carts", carts_page.carts),
        Page(S + "/carts/{cart_key}", carts_page.cart),
        Page(S + "/purchases", purchases_page.purchases),
        Page(S + "/sources", sources_page.sources),
        Page(S + "/purchases/{purchase_id:path}", purchases_page.purchase),
        Page(S + "/purchases/{purchase_id:path}/adjust", purchases_page.purchase_adjust, "POST"),
        Page(S + "/debugger", debugger_page.debugger),
        Page(S + "/debugger/requests.json", debugger_page.requests_json),
        Page(S + "/debugger/requests/{request_id}", debugger_page.request_page),
        Page(S + "/quarantine", quarantine_page.quarantine),
        Page(S + "/quarantine/replay", quarantine_page.quarantine_replay, "POST"),
        Page(S + "/settings", settings_page.settings_get),
        Page(S + "/settings", settings_page.settings_post, "POST"),
        Page(S + "/keys", settings_page.key_create, "POST"),
        Page(S + "/keys/{key_id}/revoke", settings_page.key_revoke, "POST"),
        Page(S + "/write-keys", settings_page.write_key_create, "POST"),
        Page(S + "/write-keys/{key_id}/revoke", settings_page.write_key_revoke, "POST"),
        Page(S + "/webhooks", webhooks_page.webhooks),
        Page(S + "/webhooks", webhooks_page.webhook_create, "POST"),
        Page(W, webhooks_page.webhook_endpoint),
        Page(W, webhooks_page.webhook_change, "POST"),
        Page(W + "/replay-dead", webhooks_page.webhook_replay_dead, "POST"),
        Page(W + "/deliveries/{delivery_id}", webhooks_page.webhook_delivery),
        Page(W + "/deliveries/{delivery_id}/replay", webhooks_page.webhook_replay, "POST"),
        Page(S + "/custom-events", custom_events_page.list_page),
        Page(S + "/custom-events", custom_events_page.create, "POST"),
        Page(S + "/custom-events/{event_id}/delete", custom_events_page.delete, "POST"),
        Page(S + "/imports", imports_page.form_page),
        Page(S + "/imports", imports_page.upload, "POST"),
        Page(S + "/accounts", accounts_page.list_page, role="owner"),
        Page(S + "/accounts", accounts_page.grant, "POST", role="owner"),
        Page(S + "/accounts/{user_id}/revoke", accounts_page.revoke, "POST", role="owner"),
    ]
    return [
        Pages(pages, MIDDLEWARE),
        Route(S, stores_page.store_root, methods=["GET"]),
        Route("/favicon.ico", Favicon("favicon.ico", "image/x-icon"), methods=["GET", "HEAD"]),
        Route("/favicon.svg", Favicon("favicon.svg", "image/svg+xml"), methods=["GET", "HEAD"]),
        static_files(),
    ]


__all__ = ["replay_summary", "routes"]
