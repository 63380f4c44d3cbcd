"""Raw ASGI plumbing for the hot endpoint served in front of the Starlette app.

The browser ingest endpoint carries most of the traffic, and Starlette's layers around each
request (the error and exception middlewares, matching over every route, the Request and
Response objects) cost a sizeable share of its CPU. `FastPath` sends that one path shape
straight to a plain ASGI handler and everything else (other paths, other methods, lifespan)
to the Starlette app unchanged. The helpers here read headers and the body from the ASGI
scope and messages and write answers without building Request or Response objects; the
answers are the same bytes the Starlette app would send (see `shopevents.responses`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar, overload
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Router
from starlette.types import Receive, Scope, Send

from shopevents.errors import (
    ApiError,
    FieldError,
    StorageUnavailable,
    storage_error,
    validation_error,
)
from shopevents.jsoncodec import dumpb

log = logging.getLogger("shopevents")

T = TypeVar("T")
Handler = Callable[[str, Scope, Receive, Send], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before its request body was read: there is no one to answer."""


def as_api_error(exc: Exception, retry_after_seconds: int) -> ApiError:
    """The answer to an exception a handler did not answer itself: an `ApiError` as it is,
    storage down as `503 storage_unavailable` with `Retry-After`, anything else logged and
    answered `500 internal_error`. Used by the fast path and the Starlette app alike."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, StorageUnavailable):
        return storage_error(exc, retry_after_seconds)
    if isinstance(exc, (ClientGone, ClientDisconnect)):
        # the client left, or its body timed out (already answered 408): nothing is sent
        return ApiError("request_timeout", "The client left before its request was read")
    log.exception("unhandled error", exc_info=exc)
    return ApiError("internal_error")


class RawHeaders(Mapping[str, str]):
    """A request's headers read from `scope["headers"]` (lowercase byte names), looked up by
    lowercase name; the first of repeated headers wins, as with Starlette's `Headers`."""

    __slots__ = ("_raw",)

    def __init__(self, scope: Scope) -> None:
        self._raw: dict[bytes, bytes] = dict(reversed(scope["headers"]))

    @overload
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, default: str, /) -> str: ...
    @overload
    def get(self, key: str, default: T, /) -> str | T: ...
    def get(self, key: str, default: Any = None, /) -> Any:
        value = self._raw.get(key.encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    def __getitem__(self, key: str) -> str:
        return self._raw[key.encode("latin-1")].decode("latin-1")

    def __iter__(self) -> Iterator[str]:
        return (k.decode("latin-1") for k in self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def client_host(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as it arrives; `ClientGone` if the client leaves first."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
        elif kind == "http.disconnect":
            raise ClientGone()


async def respond(
    send: Send,
    status: int,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: bytes | None = None,
) -> None:
    """One complete answer, with the headers Starlette's `Response` would give it."""
    raw = (
        [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if headers
        else []
    )
    if not (status < 200 or status in (204, 304)):
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
    if content_type is not None:
        raw.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> None:
    """The fast path's `json_response`."""
    await respond(send, status, headers, dumpb(value), b"application/json")


def route_path(scope: Scope) -> str:
    """The path the routes see: `scope["path"]` without `root_path` (as Starlette's router)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def nul_refusal(scope: Scope) -> ApiError | None:
    """The answer to a request whose query or path holds a NUL (U+0000), which no id, name or
    search text can hold (PostgreSQL text cannot): `422` naming the query parameter; `404` for
    a path, but under `/api/`, whose operations name the path parameter themselves
    (`api.auth.ApiKeyRequired`); None for any other request."""
    if "\x00" in scope["path"] and not scope["path"].startswith("/api/"):
        return ApiError("not_found", "No such resource: the path holds a NUL (U+0000) character")
    query: bytes = scope["query_string"]
    if b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            field = name.replace("\x00", "")
            return validation_error(
                [FieldError(f"/{field}", "Expected a text without NUL (U+0000) characters")]
            )
    return None


class FastPath:
    """The ASGI application: `{prefix}{segment}` (one non-empty path segment, no further
    slash) with one of `methods` goes to `handler(segment, scope, receive, send)`; every other
    request, and the lifespan, to the Starlette app. The Starlette app's `state`, `router` and
    `routes` are reachable here, so code written against the Starlette app keeps working."""

    def __init__(self, app: Starlette, prefix: str, methods: set[str], handler: Handler) -> None:
        self.app = app
        self.prefix = prefix
        self.methods = frozenset(methods)
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self.methods:
            path = route_path(scope)
            if path.startswith(self.prefix):
                segment = path[len(self.prefix) :]
                if segment and "/" not in segment:
                    await self.handler(segment, scope, receive, send)
                    return
        if scope["type"] == "http" and (refused := nul_refusal(scope)) is not None:
            await send_json(send, refused.body(), refused.status)
            return
        await self.app(scope, receive, send)

    @property
    def state(self) -> State:
        return self.app.state

    @property
    def router(self) -> Router:
        return self.app.router

    @property
    def routes(self) -> list[BaseRoute]:
        return self.app.routes
