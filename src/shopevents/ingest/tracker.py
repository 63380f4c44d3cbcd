"""The tracker an error answer carries.

Connectif's script stores `{"id": answer.trackerId}` after every answer, whatever its status,
and sends that tracker with the next request: an answer without `trackerId` erases the
visitor, whose next page starts a new anonymous contact. So every answer on the ingest path
carries one, errors included: the tracker the request named, read cheaply (a pattern over the
raw body, even a body that is not JSON, gzip included; else the `__cn_tracker` query
parameter or cookie), else a freshly minted one.

`BodyTap` keeps the chunks of the body as they are read, so an error raised before, during
or after reading it can still look for the tracker: an answer given before the body was read
(unknown store, origin, rate limit, a declared size over the limit) first reads up to
`PEEK_BYTES` of it, waiting at most `PEEK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import msgspec
from starlette.types import Receive, Scope

from shopevents.asgi import ClientGone, body_chunks
from shopevents.clock import SystemClock, to_micros
from shopevents.ids import new_id

PEEK_BYTES = 64 * 1024
"""How much of a body not read yet an error answer reads to find the tracker."""
PEEK_SECONDS = 0.2
"""How long an error answer waits for that much of the body (a browser sends it with the
head; a client that sends only the head is answered after this)."""
MAX_TRACKER = 64
"""Longest tracker echoed (entityInfo.trackerId is cut there too)."""

_IN_BODY = re.compile(rb'"trackerId"\s*:\s*"((?:[^"\\\x00-\x1f]|\\.){1,256})"')
_COOKIES = ("__cn_tracker", "cn_tracker")


class BodyTap:
    """The request body as `stream()` yields it, with every chunk kept (`seen`)."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.chunks: list[bytes] = []
        self.size = 0
        self.done = False

    async def stream(self) -> AsyncIterator[bytes]:
        async for chunk in body_chunks(self.receive):
            self.chunks.append(chunk)
            self.size += len(chunk)
            yield chunk
        self.done = True

    async def peek(self, limit: int = PEEK_BYTES, seconds: float = PEEK_SECONDS) -> None:
        """Read on until `limit` bytes are seen, the body ends, or `seconds` have passed (a
        body that is not coming, or a client gone: stop). The answer never waits longer."""
        if self.done or self.size >= limit:
            return

        async def more() -> None:
            async for _ in self.stream():
                if self.size >= limit:
                    return

        try:
            await asyncio.wait_for(more(), seconds)
        except (TimeoutError, ClientGone):
            return

    def seen(self) -> bytes:
        return b"".join(self.chunks)


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()[:MAX_TRACKER]
    return value or None


def in_body(body: bytes, encoding: str = "") -> str | None:
    """`"trackerId": "…"` anywhere in the body (gunzipped first if it is gzip), or None."""
    if encoding.lower().strip() in ("gzip", "x-gzip") or body[:2] == b"\x1f\x8b":
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 4 * PEEK_BYTES)
        except zlib.error:
            return None
    for match in _IN_BODY.finditer(body):
        try:
            value = msgspec.json.decode(b'"' + match.group(1) + b'"', type=str)
        except msgspec.DecodeError:
            continue
        if cleaned := _clean(value):
            return cleaned
    return None


def _cookie_value(text: str) -> str | None:
    text = unquote(text.strip().strip('"'))
    if text.startswith("{"):  # the localStorage form, {"id": "…"}
        try:
            obj = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return None
        return _clean(obj.get("id")) if isinstance(obj, dict) else None
    return _clean(text)


def in_request(scope: Scope, headers: Mapping[str, str]) -> str | None:
    """`__cn_tracker` in the query string, else a `__cn_tracker` or `cn_tracker` cookie."""
    query = scope.get("query_string", b"")
    if b"__cn_tracker" in query:
        for k, v in parse_qsl(query.decode("latin-1")):
            if k == "__cn_tracker" and (found := _clean(v)):
                return found
    cookie = headers.get("cookie")
    if cookie:
        for part in cookie.split(";"):
            name, _, value = part.partition("=")
            if name.strip() in _COOKIES and (found := _cookie_value(value)):
                return found
    return None


async def for_error(
    tap: BodyTap,
    scope: Scope,
    headers: Mapping[str, str],
    mint: bool = True,
    *,
    now_us: int | None = None,
) -> str:
    """The tracker an error answer carries: the request's, else a new one made at `now_us`
    (the caller's clock; by default the system's), else `""` when `mint` is false: a store
    that may refuse the request for consent mints none."""
    await tap.peek()
    found = in_body(tap.seen(), headers.get("content-encoding", "")) or in_request(scope, headers)
    if found or not mint:
        return found or ""
    return new_id(to_micros(SystemClock().now()) if now_us is None else now_us)
