"""The one API-key check of the key-authenticated surfaces (`/api`: the REST API, webhooks,
reports, Segment write keys): `Authorization: apiKey {keyId}:{keySecret}`, the key looked
up for every request (`AppContext.api_keys`), so a revoked key is refused from the next
request on."""

from __future__ import annotations

from starlette.requests import Request

from shopevents.context import AppContext
from shopevents.errors import ApiError
from shopevents.storage.stores import StoreRecord

_CHALLENGE = {"WWW-Authenticate": "apiKey"}
# Key ids are `key_` and 16 hex digits; anything much longer is not looked up.
_MAX_KEY_ID = 64


async def authenticate(ctx: AppContext, request: Request) -> str:
    """The store id the request's API key belongs to, or ApiError `unauthorized`."""
    scheme, _, cred = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "apikey" or ":" not in cred:
        raise ApiError(
            "unauthorized", "Send `Authorization: apiKey {keyId}:{keySecret}`", headers=_CHALLENGE
        )
    key_id, _, secret = cred.strip().partition(":")
    key = await ctx.api_keys.active(key_id) if len(key_id) <= _MAX_KEY_ID else None
    if key is None or not key.opens_with(secret):
        raise ApiError("unauthorized", "Unknown or revoked API key", headers=_CHALLENGE)
    return key.store_id


async def key_store(ctx: AppContext, request: Request) -> StoreRecord:
    """The store of the request's API key (see `authenticate`)."""
    store = await ctx.get_store(await authenticate(ctx, request))
    if store is None:
        raise ApiError("unauthorized", "The key's store no longer exists")
    return store
