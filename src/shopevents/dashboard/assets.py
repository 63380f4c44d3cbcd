"""The dashboard's static files (CSS, JS, icons) and the site icon at the root, where
browsers ask for it (every page links it too)."""

from __future__ import annotations

from importlib import resources

from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from shopevents.dashboard.site import STATIC_PREFIX

STATIC = resources.files("shopevents.dashboard") / "static"


class Favicon:
    """One icon file, read once, cached by browsers for a day."""

    def __init__(self, name: str, media_type: str) -> None:
        self.data = (STATIC / name).read_bytes()
        self.media_type = media_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(
            self.data,
            media_type=self.media_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )
        await response(scope, receive, send)


def static_files() -> Mount:
    return Mount(STATIC_PREFIX, app=StaticFiles(directory=str(STATIC)), name="dashboard-static")
