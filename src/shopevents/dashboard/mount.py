"""The dashboard's pages as one sub-application of the app: its routes behind its
middleware (`dashboard.middleware`).

A `Page` is a route with its requirements: whether it is public (the login form), whether
it is a store's page (`/stores/{store_id}/...`) and the role it needs there. `Pages` claims a
request only when one of its pages matches it, so the app's other routes stay where they are
in the app's table; a page asked with a method it does not take gets the app's 405, as any
route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.datastructures import URLPath
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class Page(Route):
    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        method: str = "GET",
        *,
        store: bool = True,
        public: bool = False,
        role: str | None = None,
    ) -> None:
        """`store`: a store's page (the account needs a grant on it); `role`: the role it
        needs there (default: viewer to read, admin to act); `public`: no login needed."""
        super().__init__(path, endpoint, methods=[method])
        self.store = store
        self.public = public
        self.role = role


class Pages(BaseRoute):
    def __init__(self, pages: Sequence[Page], middleware: Sequence[Middleware]) -> None:
        self.routes = list(pages)
        app: ASGIApp = self.show
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] = (Match.NONE, {})
        for page in self.routes:
            match, child = page.matches(scope)
            if match is Match.FULL:
                # The router sets `route` to this sub-application, then applies the child
                # scope: the middleware and the endpoint see the page itself.
                return match, {**child, "route": page}
            if match is Match.PARTIAL and partial[0] is Match.NONE:
                partial = (match, {**child, "route": page})
        return partial

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        for page in self.routes:
            try:
                return page.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        page: Page = scope["route"]
        if page.methods and scope["method"] not in page.methods:
            await page.handle(scope, receive, send)  # 405
        else:
            await self.app(scope, receive, send)

    @staticmethod
    async def show(scope: Scope, receive: Receive, send: Send) -> None:
        page: Page = scope["route"]
        response = await page.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)
