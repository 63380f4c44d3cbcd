"""REST routes of erasure: `DELETE /api/contacts/{email}` erases a contact (`200` with what was
erased, or `202` with the erasure's id when the worker does it), `GET /api/erasures` and
`GET /api/erasures/{id}` read the store's audit log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shopevents.clock import to_micros
from shopevents.context import AppContext
from shopevents.domain import erasure
from shopevents.domain.identity import new_id
from shopevents.errors import ApiError
from shopevents.responses import json_response
from shopevents.schema.verdicts import _EMAIL
from shopevents.storage import erasure as erasures
from shopevents.storage.reads import iso


def actor_of(request: Request) -> str:
    """Who asked, for the audit log: the API key's id (never its secret)."""
    cred = request.headers.get("authorization", "").partition(" ")[2]
    return f"api-key:{cred.strip().partition(':')[0]}"


def routes(ctx: AppContext, store_of: Any, write: Any) -> list[Route]:
    async def erase(request: Request) -> Response:
        store = await store_of(request)
        email = request.path_params["email"].strip().lower()
        if not _EMAIL.match(email) or len(email) > 254:
            raise ApiError(
                "validation_failed",
                f"/email: Expected an e-mail address; received {request.path_params['email']!r}",
                errors=[
                    {
                        "code": "invalid_email",
                        "path": "/email",
                        "message": "Expected an e-mail address",
                    }
                ],
                extra={
                    "validationErrors": [{"path": "/email", "reason": "Expected an e-mail address"}]
                },
            )
        actor = actor_of(request)
        job = new_id(to_micros(ctx.clock.now()))
        out: erasure.Outcome = await write(
            lambda conn, now: erasure.request(conn, store.id, email, actor, now, job)
        )
        body = {"id": out.id, "status": out.status, "found": out.found, "counts": out.counts}
        return json_response(body, 202 if out.status == "pending" else 200)

    async def listed(request: Request) -> Response:
        store = await store_of(request)
        rows = await ctx.read(lambda c: erasures.listed(c, store.id))
        return json_response({"erasures": [erasure.view(e, iso) for e in rows]})

    async def one(request: Request) -> Response:
        store = await store_of(request)
        eid = request.path_params["erasure_id"]
        e = await ctx.read(lambda c: erasures.get(c, store.id, eid))
        if e is None:
            raise ApiError("not_found", f"No erasure {eid!r} in this store")
        return json_response(erasure.view(e, iso))

    return [
        Route("/api/contacts/{email}", erase, methods=["DELETE"]),
        Route("/api/erasures", listed, methods=["GET"]),
        Route("/api/erasures/{erasure_id}", one, methods=["GET"]),
    ]
