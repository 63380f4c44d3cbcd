"""REST: a store's Segment write keys (`POST/GET /api/write-keys`, `DELETE
/api/write-keys/{id}`), authenticated by the store's API key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies
from shopevents.api.auth import store_id_of
from shopevents.api.shapes.base import answer, conform
from shopevents.api.shapes.operations import WriteKeyCreated, WriteKeyList
from shopevents.api.shapes.requests import WriteKeyCreation
from shopevents.clock import from_micros
from shopevents.errors import ApiError
from shopevents.ingest.routes import read_body
from shopevents.runtime import runtime
from shopevents.storage import stores


def key_view(k: stores.WriteKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "createdAt": from_micros(k.created_at).isoformat(),
        "revokedAt": from_micros(k.revoked_at).isoformat() if k.revoked_at else None,
        "state": "revoked" if k.revoked_at else "active",
    }


async def create_write_key(request: Request) -> Response:
    store_id = store_id_of(request)
    body = await read_body(request, 4096)
    name = "default"
    if body.strip():
        obj = bodies.decode_json(body)
        if not isinstance(obj, dict) or not isinstance(obj.get("name", ""), str):
            raise ApiError("validation_failed", 'Expected {"name": text}')
        name = obj.get("name") or name
    name = conform({"name": name[:100]}, WriteKeyCreation).name or "default"
    key_id, key = await runtime(request).write(
        lambda c, now: stores.create_write_key(c, store_id, now=now, name=name)
    )
    return answer(WriteKeyCreated, {"id": key_id, "name": name, "writeKey": key}, 201)


async def list_write_keys(request: Request) -> Response:
    store_id = store_id_of(request)
    keys = await runtime(request).read(lambda c: stores.list_write_keys(c, store_id))
    return answer(WriteKeyList, {"writeKeys": [key_view(k) for k in keys]})


async def revoke_write_key(request: Request) -> Response:
    store_id = store_id_of(request)
    key_id = request.path_params["key_id"]
    done = await runtime(request).write(
        lambda c, now: stores.revoke_write_key(c, store_id, key_id, now=now)
    )
    if not done:
        raise ApiError("not_found", f"No active write key {key_id!r} in this store")
    return Response(status_code=204)
