"""API key authentication with a short in-memory cache of successful checks."""

from __future__ import annotations

import hashlib
import time

from starlette.requests import Request

from shopevents.context import AppContext
from shopevents.errors import ApiError
from shopevents.storage import stores

_CACHE_SECONDS = 5.0


class KeyCache:
    def __init__(self) -> None:
        self.hits: dict[str, tuple[float, str]] = {}

    def get(self, token: str) -> str | None:
        hit = self.hits.get(token)
        if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
            return hit[1]
        return None

    def put(self, token: str, store_id: str) -> None:
        if len(self.hits) > 10_000:
            self.hits.clear()
        self.hits[token] = (time.monotonic(), store_id)


async def authenticate(ctx: AppContext, cache: KeyCache, request: Request) -> str:
    """The store id the request's API key belongs to, or ApiError `unauthorized`."""
    header = request.headers.get("authorization", "")
    scheme, _, cred = header.partition(" ")
    if scheme.lower() != "apikey" or ":" not in cred:
        raise ApiError(
            "unauthorized",
            "Send `Authorization: apiKey {keyId}:{keySecret}`",
            headers={"WWW-Authenticate": "apiKey"},
        )
    key_id, _, secret = cred.strip().partition(":")
    token = hashlib.sha256(cred.strip().encode()).hexdigest()
    store_id = cache.get(token)
    if store_id is None:
        store_id = await ctx.read(lambda c: stores.check_api_key(c, key_id, secret))
        if store_id is None:
            raise ApiError(
                "unauthorized", "Unknown or revoked API key", headers={"WWW-Authenticate": "apiKey"}
            )
        cache.put(token, store_id)
    return store_id
