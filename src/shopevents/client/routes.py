"""GET /client-script/{storeId}: the client script with the store's configuration."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from shopevents.client.conf import StoreLike, client_conf
from shopevents.client.script import render_script

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=600"
"""Short: a change to the store's settings reaches pages within a minute or two."""
PRIVATE_CACHE_CONTROL = "private, max-age=60"
"""Without `public_url` the script's `baseUrl` comes from the request's `Host`: a shared
cache must not keep it (one request with a forged Host would serve every visitor a script
that posts elsewhere); the browser's own cache may."""


class ClientContext(Protocol):
    settings: Any

    async def get_store(self, store_id: str) -> StoreLike | None: ...


def configured_url(ctx: ClientContext) -> str:
    return str(getattr(ctx.settings, "public_url", "") or "")


def public_base_url(ctx: ClientContext, request: Request) -> str:
    """The configured public URL, or else the one the request came in on."""
    return (configured_url(ctx) or str(request.base_url)).rstrip("/")


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def routes(ctx: ClientContext) -> list[BaseRoute]:
    async def client_script(request: Request) -> Response:
        store = await ctx.get_store(request.path_params["store_id"])
        if store is None:
            return PlainTextResponse(
                "unknown store\n", status_code=404, headers={"Cache-Control": "no-store"}
            )
        mode = request.query_params.get("mode")
        rendered = render_script(client_conf(store, public_base_url(ctx, request), mode))
        fixed = bool(configured_url(ctx))  # else baseUrl depends on the Host header
        headers = {
            "ETag": rendered.etag,
            "Cache-Control": CACHE_CONTROL if fixed else PRIVATE_CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Allow-Origin": "*",
            "Vary": "Accept-Encoding" if fixed else "Accept-Encoding, Host",
        }
        if etag_matches(request.headers.get("if-none-match"), rendered.etag):
            return Response(status_code=304, headers=headers)
        return Response(rendered.body, media_type="text/javascript; charset=utf-8", headers=headers)

    return [Route("/client-script/{store_id}", client_script, methods=["GET", "HEAD"])]
