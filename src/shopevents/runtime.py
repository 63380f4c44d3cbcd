"""The runtime an HTTP handler works with: the application's one `AppContext` (settings,
database, clock, group committer), which `create_app` keeps in the app's state."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from shopevents.context import AppContext


def runtime(request: HTTPConnection) -> AppContext:
    """The AppContext of the application serving `request`."""
    ctx: AppContext = request.app.state.ctx
    return ctx
