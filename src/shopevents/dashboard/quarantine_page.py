"""A store's *Quarantine*: the events refused (pending or all, by code) and replaying them
with the current rules (`dashboard.replay`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from shopevents.dashboard import queries as dq
from shopevents.dashboard import replay
from shopevents.dashboard.params import PAGE, bounded, paged
from shopevents.dashboard.site import redirect, store_view
from shopevents.storage import reads
from shopevents.storage.database import Conn
from shopevents.storage.stores import StoreRecord

REPLAY_CHUNK = 50  # events replayed in one write


async def quarantine(request: Request) -> Response:
    v, store = store_view(request)
    code = v.q.get("code") or None
    status = "all" if v.q.get("status") == "all" else "pending"
    page_no = bounded(v.q.get("page"), 1, 1, 10**6)

    def load(c: Conn) -> dict[str, Any]:
        return {
            "rows": reads.quarantine(
                c,
                store.id,
                code=code,
                pending_only=status == "pending",
                limit=PAGE + 1,
                offset=(page_no - 1) * PAGE,
            ),
            "codes": dq.quarantine_codes(c, store.id),
            "count": dq.quarantine_count(c, store.id, code=code, pending_only=status == "pending"),
        }

    data = await v.read(load)
    return v.render(
        "quarantine.html",
        active="quarantine",
        code=code,
        show=status,
        codes=data["codes"],
        count=data["count"],
        **paged(data["rows"], page_no, v.q),
    )


def replayer(
    store: StoreRecord, chunk: list[int], max_bytes: int
) -> Callable[[Conn, int], list[dict[str, Any]]]:
    def run(conn: Conn, now: int) -> list[dict[str, Any]]:
        return replay.replay_many(conn, store, chunk, now, max_event_bytes=max_bytes)

    return run


async def quarantine_replay(request: Request) -> Response:
    v, store = store_view(request)
    assert v.form is not None
    max_bytes = v.ctx.settings.ingest.max_event_bytes
    if v.field("all"):
        code = v.field("code") or None
        ids = await v.read(lambda c: replay.pending_ids(c, store.id, code=code, limit=1000))
    else:
        ids = [
            int(x)
            for x in v.form.getlist("id")
            if isinstance(x, str) and (x.isascii() and x.isdigit())
        ][:1000]
    results: list[dict[str, Any]] = []
    for i in range(0, len(ids), REPLAY_CHUNK):
        results += await v.write(replayer(store, ids[i : i + REPLAY_CHUNK], max_bytes))
    if not results:
        v.say("info", "Nothing to replay: select events, or pick a code with pending events.")
    else:
        v.say(*replay.replay_summary(results))
    back = f"{v.base}/quarantine"
    if v.field("back_query"):
        back += "?" + v.field("back_query")
    return redirect(back)
