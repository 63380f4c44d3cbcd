"""REST routes of privacy: `DELETE /api/contacts/{email}` erases a contact (`200` with what was
erased, or `202` with the erasure's id when the worker does it), `GET /api/erasures` and
`GET /api/erasures/{id}` read the store's audit log, `GET` and `PATCH /api/store/retention`
read and set how long raw bodies and quarantined events are kept."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.api import bodies
from shopevents.api.auth import store_of
from shopevents.api.params import EMAIL, invalid
from shopevents.api.shapes.base import answer, conform
from shopevents.api.shapes.people import Erasure, ErasureLog, ErasureRequested, Retention
from shopevents.api.shapes.requests import RetentionPatch
from shopevents.domain import erasure, retention
from shopevents.errors import ApiError, FieldError, validation_error
from shopevents.ids import new_id
from shopevents.runtime import runtime
from shopevents.storage import erasure as erasures
from shopevents.storage import retention as retentions
from shopevents.storage.reads import iso


def actor_of(request: Request) -> str:
    """Who asked, for the audit log: the API key's id (never its secret)."""
    cred = request.headers.get("authorization", "").partition(" ")[2]
    return f"api-key:{cred.strip().partition(':')[0]}"


async def erase(request: Request) -> Response:
    store = await store_of(request)
    email = request.path_params["email"].strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise validation_error(
            [FieldError("/email", "Expected an e-mail address", code="invalid_email")],
            f"/email: Expected an e-mail address; received {request.path_params['email']!r}",
        )
    actor = actor_of(request)
    job = new_id(runtime(request).now_us())
    out: erasure.Outcome = await runtime(request).write(
        lambda conn, now: erasure.request(conn, store.id, email, actor, now, job)
    )
    body = {"id": out.id, "status": out.status, "found": out.found, "counts": out.counts}
    return answer(ErasureRequested, body, 202 if out.status == "pending" else 200)


async def list_erasures(request: Request) -> Response:
    store = await store_of(request)
    rows = await runtime(request).read(lambda c: erasures.listed(c, store.id))
    return answer(ErasureLog, {"erasures": [erasure.view(e, iso) for e in rows]})


async def get_erasure(request: Request) -> Response:
    store = await store_of(request)
    eid = request.path_params["erasure_id"]
    e = await runtime(request).read(lambda c: erasures.get(c, store.id, eid))
    if e is None:
        raise ApiError("not_found", f"No erasure {eid!r} in this store")
    return answer(Erasure, erasure.view(e, iso))


async def get_retention(request: Request) -> Response:
    store = await store_of(request)
    days, until = await runtime(request).read(
        lambda c: (retentions.days_of(c, store.id), retentions.pruned_until(c, store.id))
    )
    return answer(Retention, retention.view(days, until, iso))


async def patch_retention(request: Request) -> Response:
    store = await store_of(request)
    body = bodies.decode_json(await bodies.api_body(request))
    if not isinstance(body, dict) or "retentionDays" not in body:
        raise invalid("/retentionDays", 'Expected {"retentionDays": days or null}')
    value = body["retentionDays"]
    try:
        days = None if value is None else retention.check_days(value)
    except ValueError as exc:
        raise invalid("/retentionDays", str(exc)) from None
    conform({"retentionDays": days}, RetentionPatch)

    def save(conn: Any, now: int) -> tuple[int | None, int]:
        retentions.set_days(conn, store.id, days)
        return days, retentions.pruned_until(conn, store.id)

    got, until = await runtime(request).write(save)
    return answer(Retention, retention.view(got, until, iso))
