"""The one API-key check of the key-authenticated surfaces (`/api`: the REST API, webhooks,
reports, Segment write keys): `Authorization: apiKey {keyId}:{keySecret}`, the key looked
up for every request (`AppContext.api_keys`), so a revoked key is refused from the next
request on.

`ApiKeyRequired` runs the check before a route's endpoint (every `/api` route but the OpenAPI
document has it) and keeps the key's store id in the request's state, where `store_id_of`
and `store_of` read it."""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shopevents.context import AppContext
from shopevents.errors import ApiError, FieldError, validation_error
from shopevents.runtime import runtime
from shopevents.storage.stores import StoreRecord

CHALLENGE = {"WWW-Authenticate": "apiKey"}
MAX_KEY_ID = 64
"""Key ids are `key_` and 16 hex digits; anything much longer is not looked up."""


async def authenticate(ctx: AppContext, request: HTTPConnection) -> str:
    """The store id the request's API key belongs to, or ApiError `unauthorized`."""
    scheme, _, cred = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "apikey" or ":" not in cred:
        raise ApiError(
            "unauthorized", "Send `Authorization: apiKey {keyId}:{keySecret}`", headers=CHALLENGE
        )
    key_id, _, secret = cred.strip().partition(":")
    key = await ctx.api_keys.active(key_id) if len(key_id) <= MAX_KEY_ID else None
    if key is None or not key.opens_with(secret):
        raise ApiError("unauthorized", "Unknown or revoked API key", headers=CHALLENGE)
    return key.store_id


class ApiKeyRequired:
    """Route middleware: the request's API key checked (`authenticate`) before the endpoint
    runs; a request without a valid key is answered `401 unauthorized`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = HTTPConnection(scope)
        connection.state.store_id = await authenticate(runtime(connection), connection)
        for name, value in connection.path_params.items():
            if isinstance(value, str) and "\x00" in value:  # no id or e-mail holds one
                field = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
                raise validation_error(
                    [FieldError(f"/{field}", "Expected a text without NUL (U+0000) characters")]
                )
        await self.app(scope, receive, send)


def store_id_of(request: Request) -> str:
    """The id of the store the request's API key belongs to (checked by `ApiKeyRequired`)."""
    store_id: str = request.state.store_id
    return store_id


async def store_of(request: Request) -> StoreRecord:
    """The store the request's API key belongs to; `401` if it no longer exists."""
    store = await runtime(request).get_store(store_id_of(request))
    if store is None:
        raise ApiError("unauthorized", "The key's store no longer exists")
    return store
