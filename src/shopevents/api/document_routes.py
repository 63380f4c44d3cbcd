"""`GET /api/openapi.json`: the REST API's OpenAPI document (no API key needed)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api.openapi import openapi_document
from shopevents.responses import json_response
from shopevents.runtime import runtime


async def get_openapi(request: Request) -> Response:
    return json_response(openapi_document(runtime(request).settings.base_url))
