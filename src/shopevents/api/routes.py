"""The REST API's routes (`/api`): every route of the table (`table.py`) checks the request's
API key before its endpoint runs (`auth.ApiKeyRequired`); the OpenAPI document, generated from
the same table, is open."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Route

from shopevents.api.auth import ApiKeyRequired
from shopevents.api.document_routes import get_openapi
from shopevents.api.table import KEYED


def routes() -> list[Route]:
    """The Starlette routes of the table, the API-key check on each, after the open
    OpenAPI document."""
    check = [Middleware(ApiKeyRequired)]
    return [Route("/api/openapi.json", get_openapi, methods=["GET"])] + [
        Route(path, endpoint, methods=[method], middleware=check)
        for method, path, endpoint in KEYED
    ]
